"""Slack incoming webhooks: Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks),
answered as Slack answers (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks#handling_errors):
`400` with a plain-text code such as `invalid_payload`, `invalid_blocks`, `no_text`."""

import html
import re

from tests.support.chat_platforms.base import Seen, parse_json, text_verdict, units

MAX_BLOCKS = 50
MAX_ATTACHMENTS = 100
TOKEN = re.compile(r"<([^<>]*)>")


class Invalid(Exception):
    pass


def text_object(value, max_length: int, kinds=("plain_text", "mrkdwn")) -> dict:
    if not isinstance(value, dict) or value.get("type") not in kinds or not isinstance(value.get("text"), str):
        raise Invalid
    if not 1 <= units(value["text"]) <= max_length:
        raise Invalid
    allowed = {"type", "text", "verbatim"} if value["type"] == "mrkdwn" else {"type", "text", "emoji"}
    if set(value) - allowed:
        raise Invalid
    return value


def check_block(block) -> list[dict]:
    """The block's text objects, or Invalid."""
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "header" and set(block) <= {"type", "text", "block_id"}:
        return [text_object(block.get("text"), 150, kinds=("plain_text",))]
    if kind == "section" and set(block) <= {"type", "text", "fields", "block_id", "accessory"}:
        texts = [text_object(block["text"], 3000)] if "text" in block else []
        fields = block.get("fields", [])
        if not isinstance(fields, list) or len(fields) > 10 or not (texts or fields):
            raise Invalid
        return texts + [text_object(item, 2000) for item in fields]
    if kind == "context" and set(block) <= {"type", "elements", "block_id"}:
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
            raise Invalid
        return [text_object(item, 3000) for item in elements]
    if kind == "divider":
        return []
    raise Invalid


def read_mrkdwn(text: str, seen: Seen) -> None:
    """Slack's `<…>` tokens: links, user and group mentions, `!here`/`!channel`/`!everyone`."""

    def token(match: re.Match) -> str:
        inside = match.group(1)
        target, _, label = inside.partition("|")
        if target.startswith(("@U", "@W")):
            seen.mentions.append("user:" + target[1:])
            return "@" + (label or target[1:])
        if target.startswith("!"):
            seen.mentions.append(target[1:].split("^")[0])
            return "@" + target[1:]
        if target.startswith("#"):
            return "#" + (label or target[1:])
        seen.links.append(target)
        return label or target

    seen.add_text(html.unescape(TOKEN.sub(token, text)))


def check(body: bytes, headers: dict):
    message = parse_json(body)
    if not isinstance(message, dict):
        return text_verdict(400, "invalid_payload")
    attachments = message.get("attachments", [])
    if not isinstance(attachments, list) or len(attachments) > MAX_ATTACHMENTS:
        return text_verdict(400, "too_many_attachments")
    blocks = list(message.get("blocks", []))
    for attachment in attachments:
        blocks += attachment.get("blocks", []) if isinstance(attachment, dict) else []
    text = message.get("text")
    if not (isinstance(text, str) and text.strip()) and not blocks:
        return text_verdict(400, "no_text")
    if len(blocks) > MAX_BLOCKS:
        return text_verdict(400, "invalid_blocks")
    seen = Seen()
    try:
        objects = [item for block in blocks for item in check_block(block)]
    except Invalid:
        return text_verdict(400, "invalid_blocks")
    if isinstance(text, str):
        read_mrkdwn(text, seen)
    for item in objects:
        if item["type"] == "mrkdwn":
            read_mrkdwn(item["text"], seen)
        else:
            seen.add_text(item["text"])
    return text_verdict(200, "ok", seen)
