"""Google Chat incoming webhooks: `text` at most 4,096 characters, the message at most
32,000 bytes (https://developers.google.com/workspace/chat/create-messages), `cardsV2`
widgets as the Cards v2 reference has them, at most 100 per card
(https://developers.google.com/workspace/chat/api/reference/rest/v1/cards). Refusals are
Google API errors: `400 {"error": {"code": 400, "message": ..., "status": "INVALID_ARGUMENT"}}`."""

import html
import re
from html.parser import HTMLParser

from tests.support.chat_platforms.base import Seen, json_verdict, parse_json, units

MAX_BYTES = 32_000
MAX_TEXT = 4096
MAX_WIDGETS = 100
WIDGETS = {"textParagraph", "decoratedText", "buttonList", "divider", "image"}
# `text` syntax (https://developers.google.com/workspace/chat/format-messages).
TOKEN = re.compile(r"<(users/[^<>|]+|https?://[^<>|]+)(?:\|([^<>]*))?>")


def refuse(message: str):
    return json_verdict(400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})


class CardText(HTMLParser):
    """Card text's HTML subset: what shows, and where `<a href>` links."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.shown, self.links = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs).get("href"))

    def handle_data(self, data):
        self.shown.append(data)


def read_card_text(text: str, seen: Seen) -> None:
    parser = CardText()
    parser.feed(text)
    parser.close()
    seen.links.extend(parser.links)
    seen.add_text("".join(parser.shown))


def read_text(text: str, seen: Seen) -> None:
    def token(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if target.startswith("users/"):
            seen.mentions.append(target)
            return "@" + target
        seen.links.append(target)
        return label or target

    seen.add_text(TOKEN.sub(token, text))


def check_widget(widget, seen: Seen) -> str | None:
    """What is wrong with a widget, or None."""
    if not isinstance(widget, dict) or len(widget) != 1 or next(iter(widget)) not in WIDGETS:
        return "Invalid widget: exactly one of " + ", ".join(sorted(WIDGETS))
    kind, value = next(iter(widget.items()))
    if kind in ("textParagraph", "decoratedText"):
        if not isinstance(value.get("text"), str):
            return f"{kind}.text is required"
        read_card_text(value["text"], seen)
        for label in ("topLabel", "bottomLabel"):
            if label in value:
                read_card_text(value[label], seen)
    elif kind == "buttonList":
        for button in value.get("buttons", []):
            url = button.get("onClick", {}).get("openLink", {}).get("url")
            if not isinstance(button.get("text"), str) or not url:
                return "buttonList.buttons[] needs text and onClick.openLink.url"
            seen.links.append(url)
            seen.add_text(button["text"])
    return None


def check(body: bytes, headers: dict):
    message = parse_json(body)
    if not isinstance(message, dict):
        return refuse("Invalid JSON payload received.")
    if len(body) > MAX_BYTES:
        return refuse(f"Message too large: {len(body)} bytes (at most {MAX_BYTES}).")
    if set(message) - {"text", "cardsV2", "thread", "fallbackText"}:
        return refuse(f"Invalid JSON payload received. Unknown name: {sorted(set(message) - {'text', 'cardsV2'})}")
    text = message.get("text", "")
    if not isinstance(text, str) or units(text) > MAX_TEXT:
        return refuse(f"Message text is too long (at most {MAX_TEXT} characters).")
    cards = message.get("cardsV2", [])
    if not text and not cards:
        return refuse("Message cannot be empty.")
    seen = Seen()
    read_text(text, seen)
    for item in cards:
        card = item.get("card") if isinstance(item, dict) else None
        if not isinstance(card, dict):
            return refuse("cardsV2[].card is required.")
        header = card.get("header", {})
        if header and not isinstance(header.get("title"), str):
            return refuse("card.header.title is required.")
        for part in ("title", "subtitle"):
            if part in header:
                seen.add_text(html.unescape(header[part]))  # plain text: shown as written
        widgets = [widget for section in card.get("sections", []) for widget in section.get("widgets", [])]
        if len(widgets) > MAX_WIDGETS:
            return refuse(f"A card has at most {MAX_WIDGETS} widgets.")
        for widget in widgets:
            if problem := check_widget(widget, seen):
                return refuse(problem)
    return json_verdict(200, {"name": "spaces/AAAA/messages/simulated", "text": text}, seen)
