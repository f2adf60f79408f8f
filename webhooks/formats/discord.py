"""`discord`: a Discord webhook message: `content` (the notification line, with the
mentions) and one embed, within Discord's limits; incident text can never ping anyone.

Options: `username` (optional) overrides the webhook's name; `mention` (optional) is
put before the content and pings: `@here`, `@everyone`, `<@USER_ID>` or `<@&ROLE_ID>`."""

import re

from webhooks.formats.common import Message, RenderContext, check_options, clip, dumps, fit, message, short_text, units

USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")
EVERYONE = ("@here", "@everyone")

# https://discord.com/developers/docs/resources/message#create-message: content ≤ 2,000;
# https://discord.com/developers/docs/resources/message#embed-object-embed-limits: title
# ≤ 256, description ≤ 4,096, ≤ 25 fields (name ≤ 256, value ≤ 1,024), footer ≤ 2,048,
# and all of these together ≤ 6,000. Counted here in UTF-16 units (an astral emoji is 2),
# never fewer than the characters Discord counts.
CONTENT_MAX = 2000
TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELD_VALUE_MAX = 1024
EMBED_TOTAL_MAX = 6000

# Discord's Markdown: `*_~|` emphasis and spoilers, `>` quotes, backticks, `#`/`-`
# headings and lists, `[x](url)` masked links, `<@id>`/`<#id>`/`<t:…>` tags. A backslash
# makes any of them a plain character.
MARKDOWN = re.compile(r"([\\*_~|>`\[\]()#\-<])")
# `@everyone` and `@here` take no backslash; a zero-width space after the `@` makes them
# plain text (as discord.py's escape_mentions does).
MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)


def check_username(value) -> str:
    value = short_text(80)(value)
    if "discord" in value.lower() or "clyde" in value.lower():
        raise ValueError("Discord refuses names containing 'discord' or 'clyde'.")
    return value


def check_mention(value) -> str:
    if value in EVERYONE:
        return value
    if isinstance(value, str) and (USER_MENTION.fullmatch(value) or ROLE_MENTION.fullmatch(value)):
        return value
    raise ValueError("Give @here, @everyone, <@USER_ID> or <@&ROLE_ID>.")


CHECKS = {"username": check_username, "mention": check_mention}
OPTIONS_EXAMPLE = {"username": "OpsKnight", "mention": "@here"}


def validate_options(options) -> dict:
    return check_options(options, CHECKS)


def escape(text: str) -> str:
    return MASS_MENTION.sub("@\u200b\\1", MARKDOWN.sub(r"\\\1", text))


def allowed_mentions(mention: str | None, assignee_id: str | None) -> dict:
    """Exactly who may be pinged (https://discord.com/developers/docs/resources/message#allowed-mentions-object):
    the configured mention and the assignee. `@here` needs `"everyone"` in `parse`, which
    also lets `@everyone` through: such a message carries no incident text in `content`."""
    allowed: dict = {"parse": ["everyone"] if mention in EVERYONE else []}
    users = [match.group(1)] if mention and (match := USER_MENTION.fullmatch(mention)) else []
    if assignee_id and assignee_id not in users:
        users.append(assignee_id)
    if mention and (role := ROLE_MENTION.fullmatch(mention)):
        allowed["roles"] = [role.group(1)]
    if users:
        allowed["users"] = users
    return allowed


def description(msg: Message) -> str:
    text = f"**{escape(msg.title)}**"
    if msg.details and (details := clip(msg.details, DESCRIPTION_MAX - units(text) - 1, escape)):
        text += "\n" + escape(details)
    if msg.summary and (summary := clip(msg.summary, DESCRIPTION_MAX - units(text) - 2, escape)):
        text += "\n\n" + escape(summary)
    return text


def embed_total(embed: dict) -> int:
    fields = sum(units(field["name"]) + units(field["value"]) for field in embed["fields"])
    return units(embed["title"]) + units(embed["description"]) + fields + units(embed["footer"]["text"])


def build(msg: Message, mention: str | None, username: str | None) -> dict:
    assignee_id = msg.assignee.discord_user_id if msg.assignee else None
    words = [mention, f"<@{assignee_id}>" if assignee_id else None, msg.label]
    content = " ".join(filter(None, words))
    if mention not in EVERYONE:
        content += f": {escape(msg.title)}"  # at most 500 × 2 escaped: always within 2,000
    embed = {
        "title": clip(msg.label, TITLE_MAX),
        "url": msg.url,
        "color": int(msg.color[1:], 16),
        "description": description(msg),
        "fields": [
            {"name": label, "value": escape(clip(value, FIELD_VALUE_MAX, escape)) or "—", "inline": True}
            for label, value in msg.facts
        ],
        "footer": {"text": f"OpsKnight · {msg.incident_id}"},
    }
    body = {"content": content}
    if username:
        body["username"] = username
    body.update(embeds=[embed], allowed_mentions=allowed_mentions(mention, assignee_id))
    return body


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    def build_with_options(msg: Message) -> dict:
        return build(msg, options.get("mention"), options.get("username"))

    def fits(body: dict) -> bool:
        return units(body["content"]) <= CONTENT_MAX and embed_total(body["embeds"][0]) <= EMBED_TOTAL_MAX

    return dumps(fit(build_with_options, fits, message(event, context)))
