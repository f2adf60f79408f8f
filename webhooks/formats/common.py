"""What the chat formats share: an event's facts as a Message, the people they may
mention, the checks their options go through, and shortening text to a platform's limits."""

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace


class OptionsError(ValueError):
    """Bad `format_options`: `errors` maps each option to what is wrong with it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class RenderContext:
    # Where an operator opens the incident: its page in the OpsKnight admin.
    incident_url: str


def dumps(body) -> bytes:
    """Compact UTF-8 JSON with the key order given: the same input, the same bytes."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check_options(options, checks: dict[str, Callable], required: tuple[str, ...] = ()) -> dict:
    """Each option through its check (which returns the clean value or raises
    ValueError); unknown options and missing required ones are errors too."""
    if not isinstance(options, dict):
        raise OptionsError({"format_options": "Give an object (e.g. {})."})
    errors, clean = {}, {}
    for name, value in options.items():
        if name not in checks:
            known = ", ".join(sorted(checks)) or "none"
            errors[name] = f"Unknown option for this format (known: {known})."
            continue
        try:
            clean[name] = checks[name](value)
        except ValueError as error:
            errors[name] = str(error)
    for name in required:
        if name not in options:
            errors[name] = "This option is required for this format."
    if errors:
        raise OptionsError(errors)
    return clean


def short_text(max_length: int) -> Callable[[object], str]:
    def check(value) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("Give a non-empty string.")
        if len(value) > max_length or any(ord(char) < 32 for char in value):
            raise ValueError(f"At most {max_length} characters, on one line.")
        return value

    return check


# --- Measuring and shortening ---------------------------------------------------------

ELLIPSIS = "…"


def units(text: str) -> int:
    """Length in UTF-16 code units: what Telegram counts, and never less than the
    characters Slack, Discord and Google Chat count (an emoji outside the BMP is 2)."""
    return len(text.encode("utf-16-le")) // 2


def _regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF  # half of a flag


def joins_previous(text: str, at: int) -> bool:
    """Whether text[at] belongs to the character before it (a combining mark, a variation
    selector, a skin tone, what follows a ZWJ, a flag's second half): a cut there would
    leave half a letter or emoji."""
    char, before = text[at], text[at - 1]
    return (
        bool(unicodedata.combining(char))
        or char in "\u200d\ufe0e\ufe0f"
        or 0x1F3FB <= ord(char) <= 0x1F3FF
        or before == "\u200d"
        or (_regional(char) and _regional(before))
    )


def _prefix(text: str, length: int) -> str:
    while 0 < length < len(text) and joins_previous(text, length):
        length -= 1
    return text[:length].rstrip() + ELLIPSIS


def clip_to(text: str, fits: Callable[[str], bool]) -> str:
    """`text` if it fits, else its longest start (ending in …) that does, else ""."""
    if fits(text):
        return text
    low, high = 0, len(text) - 1  # the longest start kept is between these
    if not fits(_prefix(text, low)):
        return ""
    while low < high:
        middle = (low + high + 1) // 2
        if fits(_prefix(text, middle)):
            low = middle
        else:
            high = middle - 1
    return _prefix(text, low)


def clip(text: str, limit: int, render: Callable[[str], str] = str, measure: Callable[[str], int] = units) -> str:
    """The longest start of `text` whose rendering (escaped, marked up) measures at most
    `limit`: the cut is made on the raw text, so an escape is never cut in half."""
    return clip_to(text, lambda candidate: measure(render(candidate)) <= limit)


# The fields a message may shorten to fit, in order: the summary first, the title's
# first line never.
SHORTEN_ORDER = ("summary", "details", "actor", "service", "assignee_name")


def _fits_with(build: Callable, fits: Callable[[dict], bool], msg: "Message", name: str) -> Callable[[str], bool]:
    return lambda text: fits(build(replace(msg, **{name: text})))


def fit(build: Callable[["Message"], dict], fits: Callable[[dict], bool], msg: "Message") -> dict:
    """The body `build` makes of `msg`, its fields shortened in SHORTEN_ORDER until `fits`."""
    body = build(msg)
    for name in SHORTEN_ORDER:
        if fits(body):
            break
        msg = replace(msg, **{name: clip_to(getattr(msg, name), _fits_with(build, fits, msg, name))})
        body = build(msg)
    return body


# --- People ---------------------------------------------------------------------------

SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
DISCORD_USER_ID = re.compile(r"\d{1,20}")
TEAMS_UPN = re.compile(r"[^\s<>@]+@[^\s<>@]+")
TELEGRAM_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")


@dataclass(frozen=True)
class Person:
    """The assignee, with the chat handles a format may mention. A handle that does not
    have its platform's shape is dropped: it goes into markup, so it must be inert."""

    name: str
    slack_user_id: str | None = None
    teams_upn: str | None = None
    discord_user_id: str | None = None
    telegram_username: str | None = None


def _handle(value, shape: re.Pattern) -> str | None:
    return value if isinstance(value, str) and shape.fullmatch(value) else None


def person(value) -> Person | None:
    """The payload's `assignee`: an object (a responder), or a string as older events
    carry (an email or a chat id as typed), or null."""
    if not value:
        return None
    if isinstance(value, str):
        return Person(name=value)
    username = value.get("telegramUsername")
    return Person(
        name=value.get("name") or value.get("email") or value.get("id") or "",
        slack_user_id=_handle(value.get("slackUserId"), SLACK_USER_ID),
        teams_upn=_handle(value.get("teamsUserPrincipalName"), TEAMS_UPN),
        discord_user_id=_handle(value.get("discordUserId"), DISCORD_USER_ID),
        telegram_username=_handle(username.removeprefix("@") if isinstance(username, str) else None, TELEGRAM_USERNAME),
    )


# --- The message ----------------------------------------------------------------------

# Per severity: an emoji for the first line and a colour for the side bar or embed.
SEVERITY_STYLE = {
    "critical": ("🔴", "#D92D20"),
    "high": ("🟠", "#F79009"),
    "medium": ("🟡", "#FAC515"),
    "low": ("🔵", "#2E90FA"),
    "info": ("⚪", "#98A2B3"),
}
RESOLVED_STYLE = ("✅", "#12B76A")
# A private incident's severity is not in the event.
PRIVATE_STYLE = ("🔒", "#667085")

ACTIONS = {
    "incident.triggered": "Triggered",
    "incident.acknowledged": "Acknowledged",
    "incident.escalated": "Escalated",
    "incident.resolved": "Resolved",
    "incident.reopened": "Reopened",
}


@dataclass(frozen=True)
class Message:
    """One event as a chat message. `label` is our own words only (emoji, action,
    reference); every other text field is the incident's, for each format to escape."""

    emoji: str
    color: str  # "#RRGGBB"
    action: str  # "Triggered", "Escalated to level 2", ...
    reference: str  # "INC-42"; the id when the event has no reference (a private incident)
    title: str  # the title's first line: never shortened
    details: str  # the title's other lines, if any
    url: str
    incident_id: str
    status: str
    severity: str
    service: str
    assignee_name: str
    assignee: Person | None
    actor: str
    escalation_level: int
    summary: str
    is_private: bool

    @property
    def label(self) -> str:
        return f"{self.emoji} {self.action} · {self.reference}"

    @property
    def headline(self) -> str:
        return f"{self.label}: {self.title}"

    @property
    def facts(self) -> list[tuple[str, str]]:
        """(label, value) in display order; the values are incident text."""
        if self.is_private:
            return [("Visibility", "private: open it in OpsKnight to see the details")]
        facts = [
            ("Status", self.status),
            ("Severity", self.severity),
            ("Service", self.service or "—"),
            ("Assignee", self.assignee_name or "unassigned"),
        ]
        if self.escalation_level:
            facts.append(("Escalation level", str(self.escalation_level)))
        if self.actor:
            facts.append(("By", self.actor))
        return facts


def message(event: dict, context: RenderContext) -> Message:
    """The readable facts of an OpsKnight event (its stored payload, parsed)."""
    incident = event["incident"]
    event_type = event["event"]
    action = ACTIONS.get(event_type, event_type)
    reference = incident.get("reference") or incident["id"]
    if incident.get("visibility") == "private":
        emoji, color = PRIVATE_STYLE
        return Message(
            emoji=emoji, color=color, action=action, reference=reference, title="private incident", details="",
            url=context.incident_url, incident_id=incident["id"], status="", severity="", service="",
            assignee_name="", assignee=None, actor="", escalation_level=0, summary="", is_private=True,
        )  # fmt: skip
    level = incident.get("escalationLevel") or 0
    if event_type == "incident.escalated":
        action = f"Escalated to level {level}"
    severity = incident.get("severity") or "info"
    emoji, color = (
        RESOLVED_STYLE if incident.get("status") == "resolved" else SEVERITY_STYLE.get(severity, SEVERITY_STYLE["info"])
    )
    title, _, details = (incident.get("title") or incident["id"]).strip().partition("\n")
    assignee = person(incident.get("assignee"))
    actor = event.get("actor")
    return Message(
        emoji=emoji,
        color=color,
        action=action,
        reference=reference,
        title=title.strip() or incident["id"],
        details=details.strip(),
        url=context.incident_url,
        incident_id=incident["id"],
        status=incident.get("status") or "—",
        severity=severity,
        service=(incident.get("service") or {}).get("name") or "",
        assignee_name=assignee.name if assignee else "",
        assignee=assignee,
        actor=(actor.get("name") or "") if isinstance(actor, dict) else "",
        escalation_level=level,
        summary=incident.get("summary") or "",
        is_private=False,
    )
