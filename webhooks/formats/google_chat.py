"""`google_chat`: a Google Chat incoming-webhook message: `text` (the notification
line) and one card (`cardsV2`) with the facts, the severity in its colour, and an
"Open in OpsKnight" button.

No options."""

from html import escape

from webhooks.formats.common import RenderContext, check_options, dumps, message


def validate_options(options) -> dict:
    return check_options(options, {})


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    msg = message(event, context)
    widgets = []
    for label, value in msg.facts:
        text = escape(value)
        if label == "Severity":  # card text takes a little HTML: the severity in its colour
            text = f'<font color="{msg.color}">{text}</font>'
        widgets.append({"decoratedText": {"topLabel": label, "text": text}})
    if msg.summary:
        widgets.append({"textParagraph": {"text": escape(msg.summary)}})
    widgets.append(
        {"buttonList": {"buttons": [{"text": "Open in OpsKnight", "onClick": {"openLink": {"url": msg.url}}}]}}
    )
    card = {
        "header": {"title": msg.headline, "subtitle": f"OpsKnight · {msg.incident_id}"},
        "sections": [{"widgets": widgets}],
    }
    return dumps({"text": msg.headline, "cardsV2": [{"cardId": "opsknight-incident", "card": card}]})
