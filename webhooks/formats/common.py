"""What the chat formats share: the facts of an event, as short readable lines, and
the checks their options go through. Pure functions, no I/O."""

import json
from collections.abc import Callable
from dataclasses import dataclass


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


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    """One event as a chat message: a headline and labelled facts."""

    emoji: str
    color: str  # "#RRGGBB"
    action: str  # "Triggered", "Escalated to level 2", ...
    title: str
    url: str
    incident_id: str
    facts: list[tuple[str, str]]  # (label, value), in display order
    summary: str
    is_private: bool

    @property
    def headline(self) -> str:
        return f"{self.emoji} {self.action}: {self.title}"


def message(event: dict, context: RenderContext) -> Message:
    """The readable facts of an OpsKnight event (its stored payload, parsed)."""
    incident = event["incident"]
    event_type = event["event"]
    action = ACTIONS.get(event_type, event_type)
    if incident.get("visibility") == "private":
        return Message(
            emoji=PRIVATE_STYLE[0],
            color=PRIVATE_STYLE[1],
            action=action,
            title=f"private incident {incident['id']}",
            url=context.incident_url,
            incident_id=incident["id"],
            facts=[("Visibility", "private: open it in OpsKnight to see the details")],
            summary="",
            is_private=True,
        )
    level = incident.get("escalationLevel") or 0
    if event_type == "incident.escalated":
        action = f"Escalated to level {level}"
    severity = incident.get("severity") or "info"
    emoji, color = (
        RESOLVED_STYLE if incident.get("status") == "resolved" else SEVERITY_STYLE.get(severity, SEVERITY_STYLE["info"])
    )
    service = incident.get("service") or {}
    facts = [
        ("Status", incident.get("status") or "—"),
        ("Severity", severity),
        ("Service", service.get("name") or "—"),
        ("Assignee", (incident.get("assignee") or {}).get("name") or "unassigned"),
    ]
    if level:
        facts.append(("Escalation level", str(level)))
    return Message(
        emoji=emoji,
        color=color,
        action=action,
        title=incident.get("title") or incident["id"],
        url=context.incident_url,
        incident_id=incident["id"],
        facts=facts,
        summary=incident.get("summary") or "",
        is_private=False,
    )
