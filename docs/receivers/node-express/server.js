// An OpsKnight webhook receiver in Express: `npm ci && npm start`.
//
// It checks both signatures and the timestamp (verify.js, the tested snippet from the
// OpsKnight docs), skips a `webhook-id` already seen, answers at once, and afterwards
// brings a local copy of the incident up to date from the OpsKnight API.
//
// Configuration, from the environment:
//   OPSKNIGHT_WEBHOOK_SECRET      the endpoint's secret, exactly as shown (required)
//   OPSKNIGHT_WEBHOOK_OLD_SECRET  a second secret also accepted, while you rotate (optional)
//   OPSKNIGHT_API_URL             where OpsKnight runs, e.g. https://opsknight.example.com (required)
//   OPSKNIGHT_API_KEY             an API key with incidents:read and incidents:read_private (required)
//   WEBHOOK_TOLERANCE_SECONDS     how far webhook-timestamp may be from now: 1 to 300 (default 300)
//   API_RETRY_DELAYS              seconds between tries of the API, e.g. "1,5,30" (the default)
//   RECEIVER_LOG                  JSON-lines file, one line per thing done (default receiver-log.jsonl)
//   HOST, PORT                    where to listen (default 127.0.0.1:3000)
"use strict";
const fs = require("node:fs");
const express = require("express");
const { verifyWebhookSignature, verifyOpsKnightSignature } = require("./verify");

// verifyWebhookSignature refuses a timestamp more than 5 minutes away in any case, so
// the tolerance can be made smaller, not larger.
const MAX_TOLERANCE_SECONDS = 300;
const REQUIRED_HEADERS = ["webhook-id", "webhook-timestamp", "webhook-signature", "x-opsknight-signature"];

function configFromEnvironment(env) {
  for (const name of ["OPSKNIGHT_WEBHOOK_SECRET", "OPSKNIGHT_API_URL", "OPSKNIGHT_API_KEY"]) {
    if (!env[name]) throw new Error(`${name} is not set`);
  }
  const tolerance = Number(env.WEBHOOK_TOLERANCE_SECONDS || MAX_TOLERANCE_SECONDS);
  if (!Number.isInteger(tolerance) || tolerance < 1 || tolerance > MAX_TOLERANCE_SECONDS) {
    throw new Error(`WEBHOOK_TOLERANCE_SECONDS must be between 1 and ${MAX_TOLERANCE_SECONDS}`);
  }
  return {
    secrets: [env.OPSKNIGHT_WEBHOOK_SECRET, env.OPSKNIGHT_WEBHOOK_OLD_SECRET].filter(Boolean),
    apiUrl: env.OPSKNIGHT_API_URL.replace(/\/+$/, ""),
    apiKey: env.OPSKNIGHT_API_KEY,
    toleranceSeconds: tolerance,
    apiRetryDelays: (env.API_RETRY_DELAYS || "1,5,30").split(",").filter((d) => d.trim()).map(Number),
    logPath: env.RECEIVER_LOG || "receiver-log.jsonl",
    host: env.HOST || "127.0.0.1",
    port: Number(env.PORT || 3000),
  };
}

class Refused extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
  }
}

// The event, if the request is fresh and both signatures match one of the secrets;
// throws Refused (400 for a malformed request, 401 for a forged or stale one) otherwise.
// Node's req.headers are lower-cased already.
function checkRequest(body, headers, config) {
  const missing = REQUIRED_HEADERS.filter((name) => !headers[name]);
  if (missing.length) throw new Refused(400, `missing header: ${missing.join(", ")}`);
  if (!/^\d+$/.test(headers["webhook-timestamp"])) {
    throw new Refused(400, "webhook-timestamp is not a number of seconds");
  }
  // A captured request replayed later (or a badly wrong clock) is refused.
  if (Math.abs(Date.now() / 1000 - Number(headers["webhook-timestamp"])) > config.toleranceSeconds) {
    throw new Refused(401, "webhook-timestamp is too old or too far ahead");
  }
  // Constant-time comparisons inside both verifiers (crypto.timingSafeEqual).
  if (!verifyOpsKnightSignature(body, headers, config.secrets)) {
    throw new Refused(401, "X-OpsKnight-Signature does not match");
  }
  if (!config.secrets.some((secret) => verifyWebhookSignature(body, headers, secret))) {
    throw new Refused(401, "webhook-signature does not match");
  }
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new Refused(400, "the body is not JSON");
  }
}

function createReceiver(config) {
  // In memory for the example: Node 20 has no built-in database. In production keep the
  // ids somewhere shared and durable (Redis SET NX with a TTL of days, or a table with a
  // unique key), and the queue in a job queue (BullMQ, SQS), not in this process.
  const seen = new Set();
  const incidents = new Map(); // the "other system" kept in sync: incident id -> incident
  const queue = [];
  let draining = false;

  function journal(kind, details) {
    const line = JSON.stringify({ at: new Date().toISOString(), kind, ...details });
    fs.appendFileSync(config.logPath, `${line}\n`);
  }

  // Check one request, and queue its event unless it was seen before. Quick: the API
  // is not called before the answer.
  function receive(body, headers) {
    const webhookId = headers["webhook-id"];
    let event;
    try {
      event = checkRequest(body, headers, config);
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      journal("refused", { webhook_id: webhookId ?? null, status: error.status, reason: error.message });
      return { status: error.status, body: { error: error.message } };
    }
    if (seen.has(webhookId)) {
      journal("duplicate", { webhook_id: webhookId, event: event.event });
      return { status: 200, body: { duplicate: webhookId } };
    }
    seen.add(webhookId);
    journal("accepted", { webhook_id: webhookId, event: event.event });
    queue.push(event);
    if (!draining) setImmediate(drain);
    return { status: 202, body: { accepted: webhookId } };
  }

  async function drain() {
    draining = true;
    while (queue.length) {
      const event = queue.shift();
      try {
        await processEvent(event);
      } catch (error) {
        // Already answered 2xx, so OpsKnight will not retry: let a redelivery through.
        console.error(`could not process ${event.id}:`, error);
        seen.delete(event.id);
        journal("failed", { webhook_id: event.id, event: event.event, error: String(error) });
      }
    }
    draining = false;
  }

  // Bring the local copy of the event's incident up to date. The incident is always
  // fetched: a private incident's payload has only its id, and the API has the latest
  // version whatever order the events arrive in.
  async function processEvent(event) {
    const incidentId = event.incident.id;
    if (incidentId.startsWith("inc_TEST")) {
      // Send Test: a sample incident, nothing to fetch.
      journal("test", { webhook_id: event.id, event: event.event });
      return;
    }
    const incident = await fetchIncident(incidentId);
    if (incident === null) {
      journal("not_found", { webhook_id: event.id, event: event.event, incident_id: incidentId });
      return;
    }
    // Events arrive in any order: keep the highest version.
    const known = incidents.get(incident.id);
    const applied = !known || incident.version > known.version;
    if (applied) incidents.set(incident.id, incident);
    journal("processed", { webhook_id: event.id, event: event.event, incident, applied });
  }

  // GET /api/v1/incidents/{id}, retried on connection errors, 429 and 5xx; null for 404
  // (a key without incidents:read_private does not see private incidents).
  async function fetchIncident(incidentId) {
    const url = `${config.apiUrl}/api/v1/incidents/${encodeURIComponent(incidentId)}`;
    const delays = [...config.apiRetryDelays, null];
    for (let [index, delay] of delays.entries()) {
      const last = index === delays.length - 1;
      let response;
      try {
        response = await fetch(url, {
          headers: { Authorization: `Bearer ${config.apiKey}` },
          signal: AbortSignal.timeout(10_000),
        });
      } catch (error) {
        if (last) throw error;
      }
      if (response) {
        if (response.status === 404) return null;
        if (response.ok) return response.json();
        const transient = response.status === 429 || response.status >= 500;
        // 401 or 403: the key is wrong, retrying will not help.
        if (!transient || last) throw new Error(`GET ${url}: HTTP ${response.status}`);
        if (response.status === 429) delay = Math.max(delay, Number(response.headers.get("retry-after")) || 0);
      }
      await new Promise((resolve) => setTimeout(resolve, delay * 1000));
    }
    throw new Error("the last try returns or throws");
  }

  return { receive };
}

function createApp(config) {
  const receiver = createReceiver(config);
  const app = express();
  // express.raw: the body stays the exact bytes received, as signed. Never verify
  // re-serialized JSON.
  app.post("/hooks/opsknight", express.raw({ type: "application/json", limit: "1mb" }), (req, res) => {
    if (!Buffer.isBuffer(req.body)) {
      return res.status(415).json({ error: "Content-Type must be application/json" });
    }
    const answer = receiver.receive(req.body, req.headers);
    return res.status(answer.status).json(answer.body);
  });
  return app;
}

module.exports = { configFromEnvironment, checkRequest, createApp };

if (require.main === module) {
  const config = configFromEnvironment(process.env);
  createApp(config).listen(config.port, config.host, () => {
    console.log(`Receiving OpsKnight webhooks on http://${config.host}:${config.port}/hooks/opsknight`);
  });
}
