// Verify OpsKnight webhooks in Node.js with the built-in crypto module only.
// `body` is the raw request body as a Buffer (the exact bytes received, never
// re-serialized JSON); `headers` is Node's `req.headers` (any letter case works);
// secrets are the endpoint secrets exactly as shown, `whsec_` prefix included.
"use strict";
const crypto = require("node:crypto");

const TOLERANCE_SECONDS = 5 * 60;

function header(headers, name) {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

function safeEqual(a, b) {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

// True for what the server reads as base64 (Python's base64.b64decode(validate=True)).
function isBase64(text) {
  const match = /^([A-Za-z0-9+/]*)(={0,2})$/.exec(text);
  if (!match) return false;
  const [, data, padding] = match;
  const rest = data.length % 4;
  return rest === 0 ? data.length > 0 || padding === "" : rest > 1 && padding.length === 4 - rest;
}

// The HMAC key of `webhook-signature`: the base64-decoded part after `whsec_` for
// generated secrets, the secret's UTF-8 bytes for any other (typed) secret.
function signingKey(secret) {
  const encoded = secret.startsWith("whsec_") ? secret.slice("whsec_".length) : null;
  return encoded !== null && isBase64(encoded) ? Buffer.from(encoded, "base64") : Buffer.from(secret, "utf8");
}

// Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
// several of them space-separated during a secret rotation; one match is enough.
function verifyWebhookSignature(body, headers, secret, nowSeconds = Date.now() / 1000) {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures || !/^\d+$/.test(timestamp)) return false;
  // Older than 5 minutes (a replayed request) or more than 5 minutes ahead: refuse.
  if (Math.abs(nowSeconds - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const expected = crypto.createHmac("sha256", signingKey(secret)).update(`${id}.${timestamp}.`).update(body).digest();
  return signatures.split(" ").some((entry) => {
    const [version, signature] = entry.split(",");
    return version === "v1" && signature !== undefined && safeEqual(Buffer.from(signature, "base64"), expected);
  });
}

// `X-OpsKnight-Signature: sha256=<hex HMAC-SHA256(key = secret as UTF-8, message = raw body)>`.
function verifyOpsKnightSignature(body, headers, secrets) {
  const received = Buffer.from(header(headers, "x-opsknight-signature") || "", "utf8");
  return secrets.some((secret) => {
    const digest = crypto.createHmac("sha256", Buffer.from(secret, "utf8")).update(body).digest("hex");
    return safeEqual(Buffer.from(`sha256=${digest}`, "utf8"), received);
  });
}

module.exports = { verifyWebhookSignature, verifyOpsKnightSignature, signingKey };

// CLI: `node verify.js request.json`, or the JSON on stdin:
//   {"body": "<raw body>", "headers": {...}, "secret": "whsec_..."}   ("secrets": [...] for several)
// Prints {"webhookSignature": true|false, "opsknightSignature": true|false}; exit status 0 when both hold.
if (require.main === module) {
  const fs = require("node:fs");
  const input = JSON.parse(fs.readFileSync(process.argv[2] || 0, "utf8"));
  const secrets = input.secrets || [input.secret];
  const body = Buffer.from(input.body, "utf8");
  const result = {
    webhookSignature: secrets.some((secret) => verifyWebhookSignature(body, input.headers, secret)),
    opsknightSignature: verifyOpsKnightSignature(body, input.headers, secrets),
  };
  console.log(JSON.stringify(result));
  process.exitCode = result.webhookSignature && result.opsknightSignature ? 0 : 1;
}
