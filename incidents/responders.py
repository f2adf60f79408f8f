"""The responder directory (the people incidents are assigned to), and an incident's
assignee read as a person: given as a responder id, an email or a Slack user id."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower

from incidents.models import SLACK_USER_ID, Incident, Responder

# The fields a responder is made of, in the order the API and the admin show them.
RESPONDER_FIELDS = ("name", "email", "slack_user_id", "teams_upn", "discord_user_id", "telegram_username")
# The handles are optional: "" means none (NULL, so they never collide in a unique index).
OPTIONAL_FIELDS = frozenset(RESPONDER_FIELDS) - {"name", "email"}


@dataclass(frozen=True)
class Person:
    """An assignee as formats and the API show it: a responder, or the text an incident
    was assigned to when it matched none (then `id` is None, `name` the text, and `email`
    or `slack_user_id` the text when it has that shape)."""

    id: str | None
    name: str
    email: str | None = None
    slack_user_id: str | None = None
    teams_upn: str | None = None
    discord_user_id: str | None = None
    telegram_username: str | None = None

    @classmethod
    def of_responder(cls, responder: Responder) -> "Person":
        return cls(responder.id, **{name: getattr(responder, name) for name in RESPONDER_FIELDS})

    @classmethod
    def of_text(cls, text: str) -> "Person":
        return cls(
            None,
            text,
            email=text if looks_like_email(text) else None,
            slack_user_id=text if looks_like_slack_user_id(text) else None,
        )


def looks_like_email(text: str) -> bool:
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True


def looks_like_slack_user_id(text: str) -> bool:
    return SLACK_USER_ID.regex.match(text) is not None


def incident_assignee(incident: Incident) -> Person | None:
    """The incident's assignee as a person, or None. Reads `assignee_responder`: callers
    that render many incidents select it with the incident (no query per incident)."""
    if incident.assignee_responder_id is not None:
        return Person.of_responder(incident.assignee_responder)
    if incident.assignee:
        return Person.of_text(incident.assignee)
    return None


@dataclass(frozen=True)
class Assignee:
    """What an incident stores for an assignee given as text: the text to keep, and the
    responder it names, if any."""

    text: str | None
    responder: Responder | None = None


NOBODY = Assignee(None)


def assignee_resolve(*, value: str | None) -> Assignee:
    """Match an assignee given as a responder id, an email (case-insensitive) or a Slack
    user id to a responder. One that matches none is kept as text (a name), as before
    responders existed; but an unknown responder id (`rsp_...`) is a ValidationError,
    not a name: it can only be a mistake."""
    value = (value or "").strip()
    if not value:
        return NOBODY
    if value.startswith("rsp_"):
        responder = Responder.objects.filter(pk=value).first()
        if responder is None:
            raise ValidationError({"assignee": f"No responder with id '{value}'."})
    elif "@" in value:
        responder = Responder.objects.alias(email_ci=Lower("email")).filter(email_ci=value.lower()).first()
    elif looks_like_slack_user_id(value):
        responder = Responder.objects.filter(slack_user_id=value).first()
    else:
        responder = None
    if responder is None:
        return Assignee(value)
    # The email stays on the incident: it still names the person if the responder is deleted.
    return Assignee(responder.email, responder)


def _clean_fields(fields: dict) -> dict:
    """Surrounding spaces off; "" → None for the optional handles; a Telegram username
    may be given with its @."""
    clean = {}
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.strip()
            if name == "telegram_username":
                value = value.removeprefix("@")
        if name in OPTIONAL_FIELDS and not value:
            value = None
        clean[name] = value
    return clean


def _save(responder: Responder, *, force_insert: bool = False) -> Responder:
    responder.full_clean()  # includes the unique email and Slack id: a clear 400
    try:
        with transaction.atomic():
            responder.save(force_insert=force_insert)
    except IntegrityError:
        # Lost a race with a concurrent write of the same email or Slack id: same answer.
        raise ValidationError("A responder with this email or Slack user id already exists.") from None
    return responder


def responder_create(
    *,
    name: str,
    email: str,
    slack_user_id: str | None = None,
    teams_upn: str | None = None,
    discord_user_id: str | None = None,
    telegram_username: str | None = None,
) -> Responder:
    fields = _clean_fields(
        {
            "name": name,
            "email": email,
            "slack_user_id": slack_user_id,
            "teams_upn": teams_upn,
            "discord_user_id": discord_user_id,
            "telegram_username": telegram_username,
        }
    )
    return _save(Responder(**fields), force_insert=True)


def responder_update(*, responder: Responder, **changes) -> Responder:
    unknown = set(changes) - set(RESPONDER_FIELDS)
    if unknown:
        raise ValueError(f"Not updatable: {', '.join(sorted(unknown))}")
    for name, value in _clean_fields(changes).items():
        setattr(responder, name, value)
    return _save(responder)


def responder_delete(*, responder: Responder) -> None:
    """Incidents assigned to the responder keep its email as their assignee."""
    responder.delete()


def responder_list() -> QuerySet[Responder]:
    return Responder.objects.all()


def responder_get(*, responder_id: str) -> Responder:
    return Responder.objects.get(pk=responder_id)
