"""`slack`: a Slack incoming-webhook message. `text` is the notification line; a
coloured attachment holds Block Kit blocks (headline, facts, a link to the incident).

Options: `mention` (optional), put before the text, e.g. `<!here>` or `<@U024BE7LH>`."""

from webhooks.formats.common import RenderContext, check_options, dumps, message, short_text, truncate

CHECKS = {"mention": short_text(200)}


def validate_options(options) -> dict:
    return check_options(options, CHECKS)


def escape(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup: the three it asks to escape."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    msg = message(event, context)
    text = escape(msg.headline)
    if options.get("mention"):
        text = f"{options['mention']} {text}"
    headline = f"{msg.emoji} *{msg.action}*: <{msg.url}|{escape(msg.title)}>"
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(headline, 3000)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": truncate(f"*{label}*\n{escape(value)}", 2000)} for label, value in msg.facts
            ],
        },
    ]
    if msg.summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(escape(msg.summary), 3000)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"OpsKnight · `{msg.incident_id}`"}]})
    return dumps({"text": text, "attachments": [{"color": msg.color, "blocks": blocks}]})
