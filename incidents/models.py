from django.conf import settings
from django.core.validators import EmailValidator, RegexValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from opsknight.ids import new_id


def new_service_id() -> str:
    return new_id("svc")


def new_incident_id() -> str:
    return new_id("inc")


def new_external_link_id() -> str:
    return new_id("lnk")


def new_responder_id() -> str:
    return new_id("rsp")


SYSTEM_NAME = RegexValidator(
    r"^[a-z0-9][a-z0-9_.-]*\Z", "Lower-case letters, digits, '.', '_' and '-', starting with a letter or digit."
)
PRINTABLE = RegexValidator(r"^[^\x00-\x1f\x7f]+\Z", "Must not be empty or contain control characters.")
HTTP_URL = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// URL.")
# Slack user ids: `U` (or `W` on Enterprise Grid) and 8 to 11 upper-case letters or digits.
SLACK_USER_ID = RegexValidator(
    r"^[UW][A-Z0-9]{8,11}\Z", "A Slack user id: U or W and 8 to 11 upper-case letters or digits, e.g. U02AYNF2XJM."
)
# Discord ids are snowflakes: 64-bit integers, 17 to 20 digits today.
DISCORD_USER_ID = RegexValidator(r"^[0-9]{17,20}\Z", "A Discord user id: 17 to 20 digits, e.g. 80351110224678912.")
# Telegram usernames: 5 to 32 letters, digits and underscores, starting with a letter (stored without the @).
TELEGRAM_USERNAME = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_]{4,31}\Z", "A Telegram username: 5 to 32 letters, digits or _, starting with a letter."
)
# A user principal name has the form of an email address (ada@contoso.onmicrosoft.com).
USER_PRINCIPAL_NAME = EmailValidator("A Teams user principal name, shaped like an email: ada@contoso.com.")


class Responder(models.Model):
    """A person incidents can be assigned to, with the handles chat formats mention them by."""

    id = models.CharField(primary_key=True, max_length=40, default=new_responder_id, editable=False)
    name = models.CharField(max_length=200, validators=[PRINTABLE])
    # Unique case-insensitively (the constraint below): Ada@Example.com is ada@example.com.
    email = models.EmailField(max_length=254)
    # NULL, not "", when unknown: NULLs do not collide in the unique index.
    slack_user_id = models.CharField(  # noqa: DJ001
        "Slack user id", max_length=12, null=True, blank=True, unique=True, validators=[SLACK_USER_ID]
    )
    teams_upn = models.CharField(  # noqa: DJ001
        "Teams user principal name", max_length=254, null=True, blank=True, validators=[USER_PRINCIPAL_NAME]
    )
    discord_user_id = models.CharField(  # noqa: DJ001
        "Discord user id", max_length=20, null=True, blank=True, validators=[DISCORD_USER_ID]
    )
    telegram_username = models.CharField(  # noqa: DJ001
        "Telegram username", max_length=32, null=True, blank=True, validators=[TELEGRAM_USERNAME]
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="responder_email_unique_ci",
                violation_error_message="A responder with this email already exists.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class IncidentCounter(models.Model):
    """The last incident number handed out: one row, locked by the create that takes the
    next number, so numbers are unique, in order, and without gaps (a rolled-back create
    gives its number back)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"last incident number {self.last_number}"


class Service(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_service_id, editable=False)
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    def __str__(self) -> str:
        return self.name


class ActorType(models.TextChoices):
    """Who made a change: an API key, an admin user, or the system itself."""

    API_KEY = "api_key"
    USER = "user"
    SYSTEM = "system"


class Incident(models.Model):
    class Status(models.TextChoices):
        TRIGGERED = "triggered"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    class Severity(models.TextChoices):
        CRITICAL = "critical"
        HIGH = "high"
        MEDIUM = "medium"
        LOW = "low"
        INFO = "info"

    class Visibility(models.TextChoices):
        PUBLIC = "public"
        PRIVATE = "private"

    id = models.CharField(primary_key=True, max_length=40, default=new_incident_id, editable=False)
    # Sequential, for people: the reference (`INC-42`) is made from it.
    number = models.PositiveIntegerField(unique=True, editable=False)
    title = models.CharField(max_length=500)
    summary = models.TextField(blank=True, max_length=10_000)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.TRIGGERED)
    severity = models.CharField(max_length=20, choices=Severity.choices, default=Severity.HIGH)
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents")
    # The assignee as given (a responder id, an email or a Slack user id). One that matched
    # a responder links it below, and keeps its email here, so the incident still names
    # someone if the responder is deleted; one that matched none is kept as a name.
    # NULL, not "", for "nobody": the API and the webhook payload say `"assignee": null`.
    assignee = models.CharField(  # noqa: DJ001
        max_length=320, null=True, blank=True, help_text="A responder id, an email or a Slack user id."
    )
    assignee_responder = models.ForeignKey(
        Responder, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    escalation_level = models.PositiveIntegerField(default=0)
    # Unique within its scope when present (the constraint below): the database, not a
    # read-then-write, makes concurrent creates with one key return one incident. NULLs
    # do not collide.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # Whose idempotency_key it is: the declaring API key's id, or "" for incidents declared
    # without one (the admin, the system). Each API key has its own keys, as Stripe scopes
    # them, so a key replaying another's key gets its own incident, never the other's.
    # The id is copied (not the foreign key, which a deleted key sets to NULL) so the
    # scope of an incident never changes.
    idempotency_scope = models.CharField(max_length=64, blank=True, default="", editable=False)
    # The Events API's key (PagerDuty's `dedup_key`): at most one open incident per key,
    # enforced by the partial unique constraint below; a resolved one frees the key.
    dedup_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_by_key = models.ForeignKey(
        "opsknight.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The API key that declared this incident, if it came through the API.",
    )
    # Who declared it, copied like IncidentEvent's actor: the payload's `createdBy` costs
    # no query, and reads right after the key or user is deleted.
    creator_type = models.CharField(max_length=10, choices=ActorType.choices, default=ActorType.SYSTEM)
    creator_id = models.CharField(max_length=64, blank=True)
    creator_name = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "-id"], name="incident_status_newest"),
            models.Index(fields=["created_at"], name="incident_created_at"),
            models.Index(fields=["dedup_key", "-created_at"], name="incident_dedup_key_newest"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"],
                name="incident_idempotency_key_unique_per_scope",
                violation_error_message="An incident with this idempotency_key already exists.",
            ),
            models.UniqueConstraint(
                fields=["dedup_key"],
                condition=~Q(status="resolved"),
                name="incident_one_open_per_dedup_key",
                violation_error_message="An open incident already has this dedup_key.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference or self.id} {self.title}"

    @property
    def is_private(self) -> bool:
        return self.visibility == self.Visibility.PRIVATE

    @property
    def reference(self) -> str | None:
        """`INC-42`: INCIDENT_REFERENCE_PREFIX, a dash, the number."""
        return None if self.number is None else f"{settings.INCIDENT_REFERENCE_PREFIX}-{self.number}"


class IncidentEvent(models.Model):
    """One timeline entry per lifecycle change, written in the change's transaction.

    The actor is copied in (type, id, name) rather than linked, so the timeline still
    reads right after a key or user is deleted."""

    class Type(models.TextChoices):
        TRIGGERED = "incident.triggered"
        ACKNOWLEDGED = "incident.acknowledged"
        RESOLVED = "incident.resolved"
        ESCALATED = "incident.escalated"
        REOPENED = "incident.reopened"

    ActorType = ActorType

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40, choices=Type.choices)
    version = models.PositiveIntegerField(help_text="The incident's version after this change.")
    occurred_at = models.DateTimeField(default=timezone.now)
    actor_type = models.CharField(max_length=10, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_name = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["incident", "version"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "version"], name="incident_event_one_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.type} v{self.version}"


class ExternalLink(models.Model):
    """A record in another system (an ITSM ticket, a chat thread) about this incident.
    Receivers add one through the API and find it again in every later webhook."""

    id = models.CharField(primary_key=True, max_length=40, default=new_external_link_id, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="external_links")
    system = models.CharField(
        max_length=50,
        validators=[SYSTEM_NAME],
        help_text="The other system, lower case, e.g. jira or servicenow.",
    )
    key = models.CharField(max_length=255, validators=[PRINTABLE], help_text="The record's key there, e.g. OPS-123.")
    url = models.URLField(max_length=2000, validators=[HTTP_URL], help_text="Where a person opens it (http or https).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]  # ids sort by creation time
        constraints = [
            models.UniqueConstraint(fields=["incident", "system", "key"], name="external_link_one_per_system_key"),
        ]

    def __str__(self) -> str:
        return f"{self.system} {self.key}"
