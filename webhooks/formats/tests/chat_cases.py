"""Adversarial incidents for the chat formats: every text field at its model maximum
(title 500, summary 10,000, service 200, assignee 320), filled with each platform's
markup and mention syntax, emoji, combining marks and right-to-left text."""

import json

from webhooks import formats

BASE_URL = "https://ops.example.com"
URL = f"{BASE_URL}/admin/incidents/incident/inc_01CHAT0000000000000000001/change/"
REFERENCE = "INC-42"
EVENT_TYPES = ("incident.triggered", "incident.acknowledged", "incident.escalated", "incident.resolved",
               "incident.reopened")  # fmt: skip
MAX = {"title": 500, "summary": 10_000, "service": 200, "assignee": 320}

# Every platform's live markup, and what may pass for it.
MARKUP = [
    "<!channel>", "<!here>", "<!everyone>", "<@U0EVIL1>", "<!subteam^S0EVIL>", "<#C0EVIL>",
    "<users/all>", "<users/123456789>", "<http://evil.example|click me>", "<http://evil.example>",
    "@everyone", "@here", "@Everyone", "<@123456789012345678>", "<@!123456789012345678>", "<@&987654321>",
    "[x](http://evil.example)", "[x](<http://evil.example>)", "<b>", "</a>", '<a href="http://evil.example">x</a>',
    "&amp;", "&lt;", "&#60;", "&nbsp;", "**bold**", "_it_", "~st~", "||spoiler||", "`code`", "```", "\\", "\\[y](z)",
    "> quote", "# head", "- item", "1. item", "<at>Ada Lovelace</at>", "<at>x</at>", "@ada_lovelace", "@evil_user",
    "tg://user?id=1", '"quoted"', "'single'",
]  # fmt: skip
HOSTILE = " ".join(MARKUP) + " "
EMOJI = "🔥👩🏽‍💻🇪🇺❤️‍🔥 "
COMBINING = "e\u0301\u0302\u0303 n\u0303 "
RTL = "שלום עולם مرحبا بالعالم \u202eevil\u202c "
# Each fills every field: the worst cases for markup, for escaping growth (`<`, `&`,
# `*`, control characters in JSON) and for UTF-16 counts (emoji).
VARIANTS = {
    "hostile": HOSTILE,
    "mixed": HOSTILE + EMOJI + COMBINING + RTL,
    "lt": "<",
    "amp": "&",
    "star": "*",
    "emoji": EMOJI,
    "combining": COMBINING,
    "rtl": RTL,
    "json": '"\\\x01',
}

# Each format's options in these tests, and the mentions those options and the
# assignee's handles must give: nothing more.
ASSIGNEE_HANDLES = {
    "id": "rsp_01CHAT0000000000000000001",
    "email": "ada@example.com",
    "slackUserId": "U024BE7LH",
    "teamsUserPrincipalName": "ada@contoso.example",
    "discordUserId": "123456789012345678",
    "telegramUsername": "ada_lovelace",
}
OPTIONS = {
    "slack": ({"mention": "<!here>"}, ["here", "user:U024BE7LH"]),
    "msteams": ({}, ["user:ada@contoso.example"]),
    "google_chat": ({}, []),
    "discord": ({"username": "OpsKnight", "mention": "<@&42>"}, ["role:42", "user:123456789012345678"]),
    "telegram": ({"chat_id": "-1001234567890"}, ["user:@ada_lovelace"]),
}
CHAT_FORMATS = tuple(OPTIONS)


def fill(pattern: str, length: int) -> str:
    return (pattern * (length // len(pattern) + 1))[:length]


def incident(variant: str, *, multiline_title: bool = False, assignee_as_string: bool = False) -> dict:
    pattern = VARIANTS[variant]
    title = fill(pattern, MAX["title"])
    if multiline_title:
        title = fill(pattern, 200) + "\n" + fill(pattern, MAX["title"] - 201)
    name = fill(pattern, MAX["assignee"])
    return {
        "id": "inc_01CHAT0000000000000000001",
        "number": 42,
        "reference": REFERENCE,
        "title": title,
        "summary": fill(pattern, MAX["summary"]),
        "status": "triggered",
        "severity": "critical",
        "service": {"id": "svc_01CHAT0000000000000000001", "name": fill(pattern, MAX["service"])},
        "assignee": name if assignee_as_string else {**ASSIGNEE_HANDLES, "name": name},
        "createdAt": "2026-01-15T10:30:00.000Z",
        "updatedAt": "2026-01-15T10:30:00.000Z",
        "escalationLevel": 2,
        "version": 3,
        "visibility": "public",
    }


def event(event_type: str, incident: dict, actor_name: str | None = None) -> dict:
    body = {"id": "evt_01CHAT0000000000000000001", "event": event_type, "timestamp": "2026-01-15T10:30:00.000Z",
            "incident": incident}  # fmt: skip
    if actor_name is not None:
        body["actor"] = {"type": "user", "id": "usr_1", "name": actor_name}
    return body


PRIVATE = {"id": "inc_01CHAT0000000000000000002", "visibility": "private"}


def render(format_name: str, event: dict, options: dict | None = None) -> bytes:
    if options is None:
        options = OPTIONS[format_name][0]
    context = formats.RenderContext(incident_url=URL)
    return formats.render(format_name, event=json.loads(json.dumps(event)), options=options, context=context)
