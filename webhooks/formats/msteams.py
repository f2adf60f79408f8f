"""`msteams`: a Microsoft Teams message carrying one Adaptive Card (the body Teams
incoming webhooks and Workflows "post to a channel when a webhook request is received"
take). The headline is coloured by severity; facts and an "Open in OpsKnight" button follow.

No options."""

from webhooks.formats.common import RenderContext, check_options, dumps, message

# Adaptive Card text colours: the closest of its named ones to each severity colour.
CARD_COLORS = {
    "#D92D20": "Attention",
    "#F79009": "Warning",
    "#FAC515": "Warning",
    "#2E90FA": "Accent",
    "#12B76A": "Good",
}


def validate_options(options) -> dict:
    return check_options(options, {})


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    msg = message(event, context)
    body = [
        {
            "type": "TextBlock",
            "text": msg.headline,
            "weight": "Bolder",
            "size": "Medium",
            "color": CARD_COLORS.get(msg.color, "Default"),
            "wrap": True,
        },
        {"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in msg.facts]},
    ]
    if msg.summary:
        body.append({"type": "TextBlock", "text": msg.summary, "wrap": True})
    body.append({"type": "TextBlock", "text": f"OpsKnight · {msg.incident_id}", "isSubtle": True, "size": "Small"})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in OpsKnight", "url": msg.url}],
    }
    return dumps(
        {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
            ],
        }
    )
