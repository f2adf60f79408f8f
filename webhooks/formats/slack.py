"""`slack`: a Slack incoming-webhook message: `text` (the notification line) and a
coloured attachment of Block Kit blocks, each within Slack's limits, incident text escaped.

Options: `mention` (optional), put before the text, e.g. `<!here>` or `<@U024BE7LH>`."""

from webhooks.formats.common import RenderContext, check_options, clip, dumps, message, short_text

CHECKS = {"mention": short_text(200)}
OPTIONS_EXAMPLE = {"mention": "<!here>"}

# https://docs.slack.dev/reference/block-kit/blocks/header-block: header text ≤ 150;
# https://docs.slack.dev/reference/block-kit/blocks/section-block: text ≤ 3,000, ≤ 10
# fields of ≤ 2,000; https://docs.slack.dev/reference/block-kit/blocks: ≤ 50 blocks.
# Slack counts characters; `units` counts an astral emoji as 2, so a clip here is safe.
HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000


def validate_options(options) -> dict:
    return check_options(options, CHECKS)


def escape(text: str) -> str:
    """https://docs.slack.dev/messaging/formatting-message-text#escaping: `&`, `<` and
    `>` are Slack's control characters; escaped, no `<!channel>`, `<@U…>` or `<url|text>`
    in incident text is live. (`*`, `_`, `~` have no escape in mrkdwn: they may format,
    never link or mention.)"""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> dict:
    # verbatim: Slack links no bare channel names or URLs in it, parses no `@here`.
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    msg = message(event, context)
    slack_id = msg.assignee.slack_user_id if msg.assignee else None
    # The notification line: at most 200 + 50 + 5 × 500 characters, under the 4,000
    # Slack recommends (https://docs.slack.dev/messaging/formatting-message-text).
    text = " ".join(filter(None, [options.get("mention"), escape(msg.headline)]))
    title = f"*<{msg.url}|{escape(msg.title)}>*"

    def titled(details: str) -> str:
        return f"{title}\n{escape(details)}" if details else title

    fields = []
    for label, value in msg.facts:
        suffix = f" · <@{slack_id}>" if label == "Assignee" and slack_id else ""

        def field(value: str, label=label, suffix=suffix) -> str:
            return f"*{label}*\n{escape(value)}{suffix}"

        fields.append(mrkdwn(field(clip(value, FIELD_MAX, field))))
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(msg.label, HEADER_MAX), "emoji": True}},
        {"type": "section", "text": mrkdwn(titled(clip(msg.details, SECTION_MAX, titled)))},
        {"type": "section", "fields": fields},
    ]
    if msg.summary:
        blocks.append({"type": "section", "text": mrkdwn(escape(clip(msg.summary, SECTION_MAX, escape)))})
    blocks.append({"type": "context", "elements": [mrkdwn(f"OpsKnight · `{msg.incident_id}`")]})
    return dumps({"text": text, "attachments": [{"color": msg.color, "blocks": blocks}]})
