"""`discord`: a Discord webhook message: `content` (the notification line) and one
embed (title linking to the incident, colour by severity, inline fields). Nothing in
an incident's text can ping anyone: `allowed_mentions` allows only the configured mention.

Options: `username` (optional) overrides the webhook's name; `mention` (optional) is
put before the content and pings: `@here`, `@everyone`, `<@USER_ID>` or `<@&ROLE_ID>`."""

import re

from webhooks.formats.common import RenderContext, check_options, dumps, message, short_text, truncate

USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")


def check_username(value) -> str:
    value = short_text(80)(value)
    if "discord" in value.lower() or "clyde" in value.lower():
        raise ValueError("Discord refuses names containing 'discord' or 'clyde'.")
    return value


def check_mention(value) -> str:
    if value in ("@here", "@everyone"):
        return value
    if isinstance(value, str) and (USER_MENTION.fullmatch(value) or ROLE_MENTION.fullmatch(value)):
        return value
    raise ValueError("Give @here, @everyone, <@USER_ID> or <@&ROLE_ID>.")


CHECKS = {"username": check_username, "mention": check_mention}


def validate_options(options) -> dict:
    return check_options(options, CHECKS)


def allowed_mentions(mention: str | None) -> dict:
    if not mention:
        return {"parse": []}
    if mention in ("@here", "@everyone"):
        return {"parse": ["everyone"]}
    if role := ROLE_MENTION.fullmatch(mention):
        return {"parse": [], "roles": [role.group(1)]}
    return {"parse": [], "users": [USER_MENTION.fullmatch(mention).group(1)]}


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    msg = message(event, context)
    mention = options.get("mention")
    embed = {
        "title": truncate(msg.headline, 256),
        "url": msg.url,
        "color": int(msg.color[1:], 16),
        "fields": [{"name": label, "value": truncate(value, 1024), "inline": True} for label, value in msg.facts],
        "footer": {"text": f"OpsKnight · {msg.incident_id}"},
    }
    if msg.summary:
        embed["description"] = truncate(msg.summary, 4096)
    body = {"content": truncate(f"{mention} {msg.headline}" if mention else msg.headline, 2000)}
    if options.get("username"):
        body["username"] = options["username"]
    body.update(embeds=[embed], allowed_mentions=allowed_mentions(mention))
    return dumps(body)
