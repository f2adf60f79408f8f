"""`google_chat`: a Google Chat incoming-webhook message: `text` (the notification line)
and one card (`cardsV2`) with the facts, the severity in its colour and an "Open in
OpsKnight" button, within Chat's limits, incident text made inert. No options."""

import html

from webhooks.formats.common import Message, RenderContext, check_options, dumps, fit, message, units

# https://developers.google.com/workspace/chat/create-messages: a message, text and
# cards together, is at most 32,000 bytes; `text` at most 4,096 characters
# (https://developers.google.com/workspace/chat/api/reference/rest/v1/spaces.messages).
MESSAGE_MAX_BYTES = 32_000
TEXT_MAX = 4096
# https://developers.google.com/workspace/chat/api/reference/rest/v1/cards: up to 100
# widgets per card (ours: at most 10).
ZWSP = "\u200b"


def validate_options(options) -> dict:
    return check_options(options, {})


def escape_text(text: str) -> str:
    """Chat's `text` syntax (https://developers.google.com/workspace/chat/format-messages)
    has no escape character; its live markup, `<users/all>` and `<url|text>`, starts with
    `<`, so a zero-width space after each `<` leaves the text looking the same, but inert."""
    return text.replace("<", "<" + ZWSP)


def escape_card(text: str) -> str:
    # Card text takes a little HTML (<b>, <a href>, <font>): incident text is escaped for it.
    return html.escape(text, quote=False)


def card_message(msg: Message) -> dict:
    widgets = [{"textParagraph": {"text": f"<b>{escape_card(msg.title)}</b>"}}]
    if msg.details:
        widgets.append({"textParagraph": {"text": escape_card(msg.details)}})
    for label, value in msg.facts:
        text = escape_card(value)
        if label == "Severity":  # the severity in its colour
            text = f'<font color="{msg.color}">{text}</font>'
        widgets.append({"decoratedText": {"topLabel": label, "text": text}})
    if msg.summary:
        widgets.append({"textParagraph": {"text": escape_card(msg.summary)}})
    widgets.append(
        {"buttonList": {"buttons": [{"text": "Open in OpsKnight", "onClick": {"openLink": {"url": msg.url}}}]}}
    )
    card = {
        # The header is our own words only: Chat may format header text.
        "header": {"title": msg.label, "subtitle": f"OpsKnight · {msg.incident_id}"},
        "sections": [{"widgets": widgets}],
    }
    text = f"{msg.label}: {escape_text(msg.title)}"
    return {"text": text, "cardsV2": [{"cardId": "opsknight-incident", "card": card}]}


def fits(body: dict) -> bool:
    return units(body["text"]) <= TEXT_MAX and len(dumps(body)) <= MESSAGE_MAX_BYTES


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    # The title (at most 500 characters, 1,000 units if each is a `<` or an emoji) always
    # fits `text`; what fit() shortens to stay within 32,000 bytes is the card's text.
    return dumps(fit(card_message, fits, message(event, context)))
