"""`telegram`: the body of the Bot API's `sendMessage` (the endpoint URL is
`https://api.telegram.org/bot<token>/sendMessage`, so it holds the bot's token: keep
it as secret as the signing secret). HTML parse mode, link previews off.

Options: `chat_id` (required): a chat id (`-100123...`, as a number or a string) or a
channel's `@username`; `message_thread_id` (optional): a forum topic;
`disable_notification` (optional): send silently."""

import re
from html import escape

from webhooks.formats.common import RenderContext, check_options, dumps, message, truncate

CHAT_ID = re.compile(r"-?\d{1,20}")
CHANNEL = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
# Telegram takes 4,096 characters of text (markup not counted); a title, a service
# and an assignee are at most about 1,000 of them.
SUMMARY_LIMIT = 3000


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


def validate_options(options) -> dict:
    return check_options(options, CHECKS, required=("chat_id",))


def render(event: dict, options: dict, context: RenderContext) -> bytes:
    msg = message(event, context)
    lines = [f'{msg.emoji} <b>{escape(msg.action)}</b>: <a href="{escape(msg.url)}">{escape(msg.title)}</a>']
    lines += [f"{escape(label)}: {escape(value)}" for label, value in msg.facts]
    if msg.summary:
        lines.append(f"<i>{escape(truncate(msg.summary, SUMMARY_LIMIT))}</i>")
    lines.append(f"OpsKnight · <code>{escape(msg.incident_id)}</code>")
    text = "\n".join(lines)
    body = {"chat_id": options["chat_id"]}
    if "message_thread_id" in options:
        body["message_thread_id"] = options["message_thread_id"]
    body.update(text=text, parse_mode="HTML", link_preview_options={"is_disabled": True})
    if "disable_notification" in options:
        body["disable_notification"] = options["disable_notification"]
    return dumps(body)
