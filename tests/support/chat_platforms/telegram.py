"""Telegram Bot API `sendMessage` (https://core.telegram.org/bots/api#sendmessage) in
HTML parse mode (https://core.telegram.org/bots/api#html-style): only the documented
tags and entities, then at most 4,096 UTF-16 units of text after entity parsing.
Refusals as the Bot API's `400 {"ok": false, "error_code": 400, "description": "Bad Request: ..."}`."""

import re

from tests.support.chat_platforms.base import Seen, json_verdict, parse_json, units

TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji", "code",
        "pre", "blockquote"}  # fmt: skip
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
MARKUP = re.compile(r"<(/?)([a-z-]*)((?:\s+[a-z-]+=\"[^\"]*\")*)\s*>|&(#x[0-9a-fA-F]+|#\d+|[a-zA-Z]+);|[<&]")
HREF = re.compile(r'href="([^"]*)"')
# Telegram finds @usernames (5 to 32 characters) in text by itself; they notify.
USERNAME = re.compile(r"(?<![\w@])@([A-Za-z][A-Za-z0-9_]{4,31})(?![A-Za-z0-9_])")


class Refused(Exception):
    pass


def entity_text(match: re.Match, offset: int) -> str:
    entity = match.group(4)
    if entity.startswith("#x"):
        return chr(int(entity[2:], 16))
    if entity.startswith("#"):
        return chr(int(entity[1:]))
    if entity not in NAMED_ENTITIES:
        raise Refused(f'Unsupported HTML entity "&{entity};" at byte offset {offset}')
    return NAMED_ENTITIES[entity]


def parse_html(text: str, seen: Seen) -> str:
    """The text after entity parsing, or Refused as Telegram words it."""
    shown, open_tags, position = [], [], 0
    for match in MARKUP.finditer(text):
        shown.append(text[position : match.start()])
        position = match.end()
        offset = len(text[: match.start()].encode())
        if match.group(0) in ("<", "&"):
            raise Refused(f'Unsupported start tag "{text[match.start() : match.start() + 10]}" at byte offset {offset}')
        if match.group(4) is not None:
            shown.append(entity_text(match, offset))
            continue
        closing, tag, attributes = match.groups()[:3]
        if tag not in TAGS:
            raise Refused(f'Unsupported start tag "{tag}" at byte offset {offset}')
        if closing:
            if not open_tags or open_tags.pop() != tag:
                raise Refused(f'Unmatched end tag at byte offset {offset}, expected "</{tag}>"')
            continue
        open_tags.append(tag)
        if tag == "a":
            href = HREF.search(attributes or "")
            seen.links.append(href.group(1).replace("&amp;", "&") if href else "")
    if open_tags:
        raise Refused(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    shown.append(text[position:])
    return "".join(shown)


def refuse(description: str):
    return json_verdict(400, {"ok": False, "error_code": 400, "description": "Bad Request: " + description})


def check(body: bytes, headers: dict):
    message = parse_json(body)
    if not isinstance(message, dict):
        return refuse("invalid JSON")
    if message.get("chat_id") in (None, ""):
        return refuse("chat_id is empty")
    if message.get("parse_mode") != "HTML":
        return refuse("this simulator speaks HTML parse mode only")
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        return refuse("message text is empty")
    seen = Seen()
    try:
        shown = parse_html(text, seen)
    except Refused as refused:
        return refuse("can't parse entities: " + str(refused))
    if not shown.strip():
        return refuse("message text is empty")
    if units(shown) > 4096:
        return refuse("message is too long")
    seen.mentions += ["user:@" + name for name in USERNAME.findall(shown)]
    seen.add_text(shown)
    result = {"message_id": 1, "chat": {"id": message["chat_id"]}, "text": shown}
    return json_verdict(200, {"ok": True, "result": result}, seen)
