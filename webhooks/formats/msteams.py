"""`msteams`: a Microsoft Teams message carrying one Adaptive Card 1.5 (the body Teams
incoming webhooks and Workflows "post to a channel when a webhook request is received"
take), within Teams' 28 KB, incident text escaped for the card's Markdown. No options."""

import re

from webhooks.formats.common import Message, RenderContext, check_options, dumps, fit, message, units

# Adaptive Card text colours: the closest of its named ones to each severity colour.
CARD_COLORS = {
    "#D92D20": "Attention",
    "#F79009": "Warning",
    "#FAC515": "Warning",
    "#2E90FA": "Accent",
    "#12B76A": "Good",
}
# Teams renders cards up to 1.5 (https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card).
CARD_VERSION = "1.5"
# https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using:
# a message is at most 28 KB. Teams has been seen to count the body as UTF-16 when the
# request names no charset (ours says `application/json`), so both sizes stay under it.
MESSAGE_MAX = 28_000

# TextBlock and FactSet text is Markdown (https://aka.ms/ACTextFeatures): links
# `[x](url)`, `**`/`_` emphasis, lists, and Teams' `<at>` mentions. A backslash before
# any of these (CommonMark escapes all ASCII punctuation) makes it a plain character;
# `-`, `+`, `#` and `>` only make lists, headings and quotes at the start of a line.
MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>|~!]|(?<![^\n])[-+#])")
# What may stand between <at> and </at>: letters, digits, spaces, dots, apostrophes, hyphens.
NOT_IN_MENTION = re.compile(r"[^\w .'-]|_")


def validate_options(options) -> dict:
    return check_options(options, {})


def escape(text: str) -> str:
    return MARKDOWN.sub(r"\\\1", text)


def text_block(text: str, **style) -> dict:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def card(msg: Message) -> dict:
    upn = msg.assignee.teams_upn if msg.assignee else None
    body = [
        text_block(
            f"{msg.label}: {escape(msg.title)}",
            weight="Bolder",
            size="Medium",
            color=CARD_COLORS.get(msg.color, "Default"),
        )
    ]
    if msg.details:
        body.append(text_block(escape(msg.details)))
    facts = [(label, value) for label, value in msg.facts if not (upn and label == "Assignee")]
    body.append({"type": "FactSet", "facts": [{"title": label, "value": escape(value)} for label, value in facts]})
    entities = []
    if upn:
        # Teams mentions whoever an entity names, where the card's text has the entity's
        # exact `<at>…</at>`; incident text has its `<` escaped, so it never matches.
        at = f"<at>{NOT_IN_MENTION.sub('', msg.assignee_name).strip() or 'assignee'}</at>"
        body.append(text_block(f"Assignee: {at}"))
        entities.append({"type": "mention", "text": at, "mentioned": {"id": upn, "name": msg.assignee_name}})
    if msg.summary:
        body.append(text_block(escape(msg.summary)))
    body.append(text_block(f"OpsKnight · {msg.incident_id}", isSubtle=True, size="Small"))
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in OpsKnight", "url": msg.url}],
    }
    if entities:
        content["msteams"] = {"entities": entities}
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content}
    return {"type": "message", "attachments": [attachment]}


def fits(body: dict) -> bool:
    raw = dumps(body)
    return max(len(raw), 2 * units(raw.decode())) <= MESSAGE_MAX


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    return dumps(fit(card, fits, message(event, context)))
