"""Microsoft Teams incoming webhooks: a `message` with one Adaptive Card, valid against
the official schema of the version it declares (vendored in tests/support/schemas/), a
version Teams renders, and at most 28 KB; `<at>` mentions need their `msteams` entity.
Refusals as the classic incoming webhook answers them: `400 Bad payload received by
generic incoming webhook.` and `413` for a message over the size limit."""

import json
import re
from functools import cache
from pathlib import Path

import jsonschema

from tests.support.chat_platforms.base import (
    Seen,
    hide_escapes,
    markdown_links,
    markdown_visible,
    parse_json,
    text_verdict,
    units,
)

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
# https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference
SUPPORTED_VERSIONS = {"1.0", "1.1", "1.2", "1.3", "1.4", "1.5"}
# https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using
MAX_BYTES = 28 * 1024
BAD_PAYLOAD = "Bad payload received by generic incoming webhook."
TOO_LARGE = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413."
AT = re.compile(r"<at>(.*?)</at>")


@cache
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMAS / "adaptive-card-1.5.json").read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def size(body: bytes, headers: dict) -> int:
    # Reported (and why the format measures both): without a charset, Teams counts the
    # body as UTF-16, two bytes a unit.
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    return len(body) if "charset=utf-8" in content_type.lower() else 2 * units(body.decode("utf-8"))


def texts(element: dict):
    """Every (text, is_markdown) of an element and its children."""
    kind = element.get("type")
    if kind == "TextBlock":
        yield element["text"]
    elif kind == "FactSet":
        for fact in element["facts"]:
            yield fact["title"]
            yield fact["value"]
    for child in element.get("items", []) + element.get("columns", []):
        yield from texts(child)


def read_card(card: dict, seen: Seen) -> bool:
    """What the card shows and who it mentions; False when an entity has no `<at>` text."""
    entities = card.get("msteams", {}).get("entities", [])
    by_text = {entity["text"]: entity["mentioned"]["id"] for entity in entities if entity.get("type") == "mention"}
    found = set()
    for element in card.get("body", []):
        for text in texts(element):
            hidden = hide_escapes(text)
            seen.links.extend(markdown_links(hidden))
            for match in AT.finditer(hidden):
                if match.group(0) in by_text:
                    found.add(match.group(0))
                    seen.mentions.append("user:" + by_text[match.group(0)])
            seen.add_text(markdown_visible(hidden))
    for action in card.get("actions", []):
        seen.links.append(action.get("url"))
    return found == set(by_text)


def check(body: bytes, headers: dict):
    message = parse_json(body)
    if not isinstance(message, dict) or message.get("type") != "message":
        return text_verdict(400, BAD_PAYLOAD)
    if size(body, headers) > MAX_BYTES:
        return text_verdict(413, TOO_LARGE)
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or len(attachments) != 1:
        return text_verdict(400, BAD_PAYLOAD)
    attachment = attachments[0]
    if attachment.get("contentType") != "application/vnd.microsoft.card.adaptive":
        return text_verdict(400, BAD_PAYLOAD)
    card = dict(attachment.get("content") or {})
    if card.get("version") not in SUPPORTED_VERSIONS:
        return text_verdict(400, BAD_PAYLOAD)
    # `msteams` is Teams' documented extension of the card (mentions, width), not part
    # of the Adaptive Card schema: checked here, then left out of the schema check.
    extension = card.pop("msteams", {})
    if set(extension) - {"entities", "width"}:
        return text_verdict(400, BAD_PAYLOAD)
    if not validator().is_valid(card):
        return text_verdict(400, BAD_PAYLOAD)
    seen = Seen()
    if not read_card({**card, "msteams": extension}, seen):
        return text_verdict(400, BAD_PAYLOAD)
    return text_verdict(200, "1", seen)
