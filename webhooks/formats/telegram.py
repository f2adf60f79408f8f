"""`telegram`: the body of the Bot API's `sendMessage` (the endpoint URL is
`https://api.telegram.org/bot<token>/sendMessage`, so it holds the bot's token: keep
it as secret as the signing secret). HTML parse mode, link previews off.

Options: `chat_id` (required): a chat id (`-100123...`, as a number or a string) or a
channel's `@username`; `message_thread_id` (optional): a forum topic;
`disable_notification` (optional): send silently."""

import html
import re

from webhooks.formats.common import Message, RenderContext, check_options, dumps, fit, message, units

CHAT_ID = re.compile(r"-?\d{1,20}")
CHANNEL = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
# https://core.telegram.org/bots/api#sendmessage: "1-4096 characters after entities
# parsing", counted in UTF-16 code units like entity offsets
# (https://core.telegram.org/api/entities#entity-length).
TEXT_MAX = 4096
# Telegram finds @usernames in any text and notifies them; a word joiner after the `@`
# keeps incident text from mentioning anyone (it is invisible, and not a username character).
AT = re.compile("@")
TAG = re.compile(r"<[^>]*>")


def check_chat_id(value) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and (CHAT_ID.fullmatch(value) or CHANNEL.fullmatch(value)):
        return value
    raise ValueError("Give the chat's id (e.g. \"-1001234567890\") or a channel's @username.")


def check_thread_id(value) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ValueError("Give the topic's id, a positive integer.")


def check_flag(value) -> bool:
    if isinstance(value, bool):
        return value
    raise ValueError("Give true or false.")


CHECKS = {"chat_id": check_chat_id, "message_thread_id": check_thread_id, "disable_notification": check_flag}
REQUIRED_OPTIONS = ("chat_id",)
OPTIONS_EXAMPLE = {"chat_id": "-1001234567890"}


def validate_options(options) -> dict:
    return check_options(options, CHECKS, required=REQUIRED_OPTIONS)


def escape(text: str) -> str:
    """HTML parse mode (https://core.telegram.org/bots/api#html-style): `&`, `<` and `>`
    as entities; `@` followed by a word joiner."""
    return AT.sub("@\u2060", html.escape(text, quote=False))


def visible_length(text: str) -> int:
    # Our markup has no `<` or `>` inside a tag's text, so dropping the tags and
    # decoding the entities is Telegram's entity parsing.
    return units(html.unescape(TAG.sub("", text)))


def text(msg: Message) -> str:
    title = f'<a href="{html.escape(msg.url)}">{escape(msg.title)}</a>'
    lines = [f"{msg.emoji} <b>{html.escape(msg.action)} · {html.escape(msg.reference)}</b>: {title}"]
    if msg.details:
        lines.append(escape(msg.details))
    username = msg.assignee.telegram_username if msg.assignee else None
    for label, value in msg.facts:
        mention = f" (@{username})" if label == "Assignee" and username else ""
        lines.append(f"{label}: {escape(value)}{mention}")
    if msg.summary:
        lines.append(f"<i>{escape(msg.summary)}</i>")
    lines.append(f"OpsKnight · <code>{html.escape(msg.incident_id)}</code>")
    return "\n".join(lines)


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    body = {"chat_id": options["chat_id"]}
    if "message_thread_id" in options:
        body["message_thread_id"] = options["message_thread_id"]
    message_text = fit(text, lambda candidate: visible_length(candidate) <= TEXT_MAX, message(event, context))
    body.update(text=message_text, parse_mode="HTML", link_preview_options={"is_disabled": True})
    if "disable_notification" in options:
        body["disable_notification"] = options["disable_notification"]
    return dumps(body)
