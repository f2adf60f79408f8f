"""Discord webhooks (https://discord.com/developers/docs/resources/webhook#execute-webhook):
content ≤ 2,000, the embed limits
(https://discord.com/developers/docs/resources/message#embed-object-embed-limits),
`allowed_mentions` as documented; refusals as Discord's `400 {"code": 50035, "message":
"Invalid Form Body", "errors": {...}}`; success `204`. Lengths in UTF-16 units: the
strictest reading of Discord's "characters"."""

import re

from tests.support.chat_platforms.base import (
    Seen,
    Verdict,
    hide_escapes,
    json_verdict,
    markdown_links,
    markdown_visible,
    parse_json,
    units,
)

LIMITS = {"title": 256, "description": 4096, "footer": 2048, "author": 256, "field_name": 256, "field_value": 1024}
USER = re.compile(r"<@!?(\d+)>")
ROLE = re.compile(r"<@&(\d+)>")
EVERYONE = re.compile(r"@(everyone|here)")


def too_long(path: list, limit: int) -> dict:
    errors: dict = {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}]}
    for key in reversed(path):
        errors = {str(key): errors}
    return errors


def invalid(errors: dict):
    return json_verdict(400, {"code": 50035, "message": "Invalid Form Body", "errors": errors})


def embed_errors(embed: dict, index: int) -> dict | None:
    total = 0
    for key, text in (("title", embed.get("title")), ("description", embed.get("description"))):
        if text is not None:
            if units(text) > LIMITS[key]:
                return too_long(["embeds", index, key], LIMITS[key])
            total += units(text)
    for part, limit_key in (("footer", "footer"), ("author", "author")):
        text = (embed.get(part) or {}).get("text" if part == "footer" else "name")
        if text is not None:
            if units(text) > LIMITS[limit_key]:
                return too_long(["embeds", index, part], LIMITS[limit_key])
            total += units(text)
    fields = embed.get("fields", [])
    if len(fields) > 25:
        return too_long(["embeds", index, "fields"], 25)
    for number, item in enumerate(fields):
        for key in ("name", "value"):
            text = item.get(key)
            if not isinstance(text, str) or not text.strip():
                return {"embeds": {str(index): {"fields": {str(number): {key: {"_errors": [
                    {"code": "BASE_TYPE_REQUIRED", "message": "This field is required"}]}}}}}}  # fmt: skip
            if units(text) > LIMITS[f"field_{key}"]:
                return too_long(["embeds", index, "fields", number, key], LIMITS[f"field_{key}"])
            total += units(text)
    if total > 6000:
        message = "Embed size exceeds maximum size of 6000"
        return {"embeds": {"_errors": [{"code": "MAX_EMBED_SIZE_EXCEEDED", "message": message}]}}
    return None


def pings(content: str, allowed: dict) -> list[str]:
    """Who the content pings, given `allowed_mentions` (escaped markup pings nobody)."""
    hidden = hide_escapes(content)
    parse = allowed.get("parse", [])
    found = []
    for user in USER.findall(hidden):
        if "users" in parse or user in allowed.get("users", []):
            found.append("user:" + user)
    for role in ROLE.findall(hidden):
        if "roles" in parse or role in allowed.get("roles", []):
            found.append("role:" + role)
    if "everyone" in parse:
        found += EVERYONE.findall(hidden)
    return found


def check(body: bytes, headers: dict):
    message = parse_json(body)
    if not isinstance(message, dict):
        return json_verdict(400, {"code": 50109, "message": "The request body contains invalid JSON."})
    content = message.get("content") or ""
    embeds = message.get("embeds") or []
    if units(content) > 2000:
        return invalid(too_long(["content"], 2000))
    if not content and not embeds:
        return json_verdict(400, {"code": 50006, "message": "Cannot send an empty message"})
    if len(embeds) > 10:
        return invalid(too_long(["embeds"], 10))
    for index, embed in enumerate(embeds):
        if errors := embed_errors(embed, index):
            return invalid(errors)
    allowed = message.get("allowed_mentions", {"parse": ["users", "roles", "everyone"]})
    parse = allowed.get("parse", [])
    if set(parse) - {"users", "roles", "everyone"} or len(allowed.get("users", [])) > 100:
        return invalid({"allowed_mentions": {"_errors": [{"code": "BASE_TYPE_CHOICES", "message": "Invalid value"}]}})
    for kind in ("users", "roles"):
        if kind in parse and allowed.get(kind):
            return invalid({"allowed_mentions": {"_errors": [{"code": "SET_TYPE_ALREADY_CONTAINS_VALUE",
                "message": f"parse:[\"{kind}\"] and {kind}: [ids] are mutually exclusive."}]}})  # fmt: skip
    seen = Seen(mentions=pings(content, allowed))
    texts = [content]
    for embed in embeds:
        texts += [embed.get("description") or ""] + [item["value"] for item in embed.get("fields", [])]
        seen.add_text(embed.get("title") or "")  # embed titles take no links
        if embed.get("url"):
            seen.links.append(embed["url"])
    for text in texts:
        hidden = hide_escapes(text)
        seen.links.extend(markdown_links(hidden))
        seen.add_text(markdown_visible(hidden))
    return Verdict(204, b"", "text/plain", seen)
