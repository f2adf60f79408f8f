from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from incidents.models import Incident, IncidentEvent
from opsknight.ids import new_id
from webhooks import formats

EVENT_TYPES = IncidentEvent.Type


def new_endpoint_id() -> str:
    return new_id("whk")


def new_event_id() -> str:
    return new_id("evt")


def new_delivery_id() -> str:
    return new_id("dlv")


VISIBILITY_FILTERS = [("both", "public and private"), ("public", "public only"), ("private", "private only")]
ORDERINGS = [("none", "none"), ("per_incident", "per incident")]


class Signing(models.TextChoices):
    HMAC = "hmac", "hmac (shared secret, v1)"
    ED25519 = "ed25519", "ed25519 (key pair, v1a)"
    BOTH = "both", "both (v1 and v1a, while receivers move)"


class WebhookEndpoint(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_endpoint_id, editable=False)
    name = models.CharField(max_length=200)
    url = models.CharField(max_length=2048)
    # Shown in full only at creation and rotation; never returned by list/detail APIs.
    # Empty for an endpoint that signs with ed25519 only (no shared secret at all).
    secret = models.CharField(max_length=200, blank=True)
    # During a rotation the old secret keeps signing alongside the new one until it expires.
    previous_secret = models.CharField(max_length=200, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # How `webhook-signature` is signed (webhooks/endpoint_signing.py): `v1,` HMAC with the
    # secret, `v1a,` ed25519 with a key pair (receivers verify with the public key alone),
    # or both during a migration from one to the other.
    signing = models.CharField(max_length=10, choices=Signing.choices, default=Signing.HMAC)
    # The `whsk_` private key never leaves the server: not in API answers, the admin, logs or
    # the attempt log. The `whpk_` public key is shown to operators and in the API.
    signing_key = models.CharField(max_length=200, blank=True)
    public_key = models.CharField(max_length=100, blank=True)
    # During a key rotation the old pair keeps signing alongside the new one until it expires.
    previous_signing_key = models.CharField(max_length=200, blank=True)
    previous_public_key = models.CharField(max_length=100, blank=True)
    previous_key_expires_at = models.DateTimeField(null=True, blank=True)
    event_types = models.JSONField(
        default=list, blank=True, help_text="The event types to send. Empty means all of them."
    )
    # What the endpoint receives: the OpsKnight body, or a chat platform's or incident.io's
    # (webhooks/formats), with what that format needs (e.g. Telegram's chat_id).
    format = models.CharField(max_length=20, choices=[(name, name) for name in formats.NAMES], default=formats.DEFAULT)
    format_options = models.JSONField(default=dict, blank=True)
    # Sent on every attempt, e.g. a receiver's own auth header: {name: value}.
    headers = models.JSONField(default=dict, blank=True, help_text="Extra HTTP headers sent on every attempt.")
    # Content filters, next to event_types (webhooks/delivery/outbox.py applies them):
    # service ids (empty: every service), the lowest severity (empty: all), visibility.
    services = models.JSONField(default=list, blank=True, help_text="Service ids; empty: every service.")
    min_severity = models.CharField(max_length=20, blank=True, choices=Incident.Severity.choices)
    visibility = models.CharField(max_length=10, choices=VISIBILITY_FILTERS, default="both")
    # per_incident: an incident's deliveries to this endpoint go one at a time, in version order.
    ordering = models.CharField(max_length=20, choices=ORDERINGS, default="none")
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Set by the first failed attempt after a success, cleared by the next success; an
    # endpoint failing for WEBHOOK_DISABLE_AFTER_FAILING_FOR is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    description = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return f"{self.name} ({self.url})"

    def is_subscribed_to(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets that sign a request now: the current one, then the previous one
        while its rotation overlap lasts."""
        if not self.secret:
            return []  # ed25519 only
        now = now or timezone.now()
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def signing_keys(self, now=None) -> list[str]:
        """The `whsk_` keys that sign `v1a` now: the current one, then the previous one
        while its rotation overlap lasts; none for an hmac endpoint."""
        if self.signing == Signing.HMAC or not self.signing_key:
            return []
        now = now or timezone.now()
        if self.previous_signing_key and self.previous_key_expires_at and self.previous_key_expires_at > now:
            return [self.signing_key, self.previous_signing_key]
        return [self.signing_key]


class Event(models.Model):
    """The outbox: one row per announced event, with the exact body every attempt sends."""

    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    type = models.CharField(max_length=40, choices=EVENT_TYPES.choices)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    incident_event = models.OneToOneField(
        IncidentEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_event"
    )
    # Stored as text, sent as its UTF-8 bytes: serialized once, at emit time.
    payload = models.TextField()
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When its deliveries were written: in the change's own transaction for a small
    # fan-out; by a worker, after commit, for a large one (null until then, and the
    # dispatcher finds it if the worker's wake-up is lost).
    expanded_at = models.DateTimeField(null=True, blank=True)
    # What subscription filters and ordering look at, as it was when the event happened:
    # {"incident_id", "version", "service_id", "severity", "visibility"} (outbox.EventFacts).
    facts = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="event_created_at"),
            models.Index(fields=["created_at"], name="event_unexpanded", condition=Q(expanded_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"


class DeliveryQuerySet(models.QuerySet):
    def claimable(self, now) -> "DeliveryQuerySet":
        """Pending, due, not leased, and not waiting behind an earlier delivery of its
        incident to an endpoint that orders them: what a worker may claim
        (webhooks/delivery/claims.py says the same in SQL, for its one-statement claims)."""
        return self.filter(
            Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now)
            & (Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            & (Q(ordered=False) | ~Exists(self.model.objects.earlier_pending()))
        )

    def earlier_pending(self, delivery=None) -> "DeliveryQuerySet":
        """The pending deliveries of the same incident to the same ordered endpoint with
        an earlier incident version: while there is one, `delivery` waits. Without a
        delivery: of the outer query's row (a subquery)."""
        if delivery is None:
            endpoint, incident, sequence = OuterRef("endpoint_id"), OuterRef("incident_id"), OuterRef("sequence")
        else:
            endpoint, incident, sequence = delivery.endpoint_id, delivery.incident_id, delivery.sequence
        return self.filter(
            endpoint_id=endpoint,
            incident_id=incident,
            ordered=True,
            status=Delivery.Status.PENDING,
            origin=Delivery.Origin.EVENT,
            sequence__lt=sequence,
        )


class Delivery(models.Model):
    """One event to one endpoint: its state, its schedule and its lease."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Origin(models.TextChoices):
        EVENT = "event", "Lifecycle event"
        TEST = "test", "Send Test"
        REDELIVER = "redeliver", "Redelivered by hand"
        REPLAY = "replay", "Replay"

    id = models.CharField(primary_key=True, max_length=40, default=new_delivery_id, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.EVENT)
    is_test = models.BooleanField(default=False)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Empty once the delivery is finished.")
    # The lease: a worker that claims the delivery owns it until then.
    locked_until = models.DateTimeField(null=True, blank=True)
    # When a task for it was last put on the queue; the dispatcher re-enqueues
    # deliveries that are due but whose message seems lost.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # The body for an endpoint with another format than the default, rendered once when
    # the delivery is written; empty: the event's own payload is sent.
    body = models.TextField(blank=True)
    # A format may turn one event into several messages (incident.io), each its own
    # delivery: its `webhook-id` (empty: the event's id) and its type in the format's own
    # event names (empty: the event's type).
    message_id = models.CharField(max_length=100, blank=True)
    message_type = models.CharField(max_length=100, blank=True)
    # For per-incident ordering (copied when written, so the claim needs no join): the
    # incident, its version, and whether the endpoint orders its deliveries.
    incident_id = models.CharField(max_length=40, blank=True, db_index=False)
    sequence = models.PositiveIntegerField(default=0)
    ordered = models.BooleanField(default=False)
    # A redelivery by hand: the delivery it repeats (null when that one was pruned).
    # Indexed only where set (below): the many other rows add nothing to the index.
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            # "Due and not leased": only pending rows are in it, so it stays small.
            models.Index(fields=["next_attempt_at"], name="delivery_due", condition=Q(status="pending")),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_newest"),
            # Failed real deliveries, counted on every /metrics scrape: few rows, read
            # from the index alone, however large the log grows.
            models.Index(
                fields=["endpoint", "completed_at"],
                name="delivery_failed",
                condition=Q(status="failed", is_test=False),
            ),
            # "An earlier delivery of this incident to this endpoint is still pending":
            # only ordered, pending event deliveries are in it.
            models.Index(
                fields=["endpoint", "incident_id", "sequence"],
                name="delivery_ordered_pending",
                condition=Q(ordered=True, status="pending", origin="event"),
            ),
            # A delivery's redeliveries (its page), and the pruning that unlinks them.
            models.Index(
                fields=["redelivery_of"], name="delivery_redelivery_of", condition=Q(redelivery_of__isnull=False)
            ),
        ]
        constraints = [
            # An event's message goes to an endpoint once (redeliveries and replays
            # aside): expanding an event again after a crash adds only what is missing.
            models.UniqueConstraint(
                fields=["event", "endpoint", "message_id"], condition=Q(origin="event"), name="delivery_one_per_message"
            ),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def webhook_id(self) -> str:
        """What `webhook-id` carries: the same on every attempt and redelivery of this message."""
        return self.message_id or self.event_id

    @property
    def type_sent(self) -> str:
        return self.message_type or self.event.type

    @property
    def sent_body(self) -> str:
        """What every attempt of this delivery sends."""
        return self.body or self.event.payload


class DeliveryAttempt(models.Model):
    class Outcome(models.TextChoices):
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    url = models.CharField(max_length=2048)
    request_headers = models.JSONField(default=dict)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body_excerpt = models.TextField(blank=True)
    error_class = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        answer = f"HTTP {self.response_status}" if self.response_status is not None else "no answer"
        return f"Attempt {self.number}: {self.outcome}, {answer}"
