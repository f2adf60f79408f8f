"""Webhook admin: endpoints (secret shown once, Send Test, rotation), deliveries and
their attempts (Redeliver). Every change goes through webhooks.services."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.html import format_html

from webhooks import formats, services
from webhooks.models import EVENT_TYPES, Delivery, DeliveryAttempt, WebhookEndpoint
from webhooks.targets import TargetRefused, check_url

ENDPOINT_FIELDS = ("name", "url", "event_types", "format", "format_options", "is_active", "description")


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=EVENT_TYPES.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Leave every box empty to receive all event types.",
    )
    format = forms.ChoiceField(
        choices=[(name, name) for name in formats.NAMES],
        required=False,
        initial=formats.DEFAULT,
        help_text="What the endpoint receives: the OpsKnight JSON, a chat message or incident.io's envelope.",
    )
    secret = forms.CharField(
        required=False,
        min_length=services.MIN_TYPED_SECRET_LENGTH,
        max_length=200,
        help_text="Leave empty to generate one (recommended). It is shown once, after saving.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [*ENDPOINT_FIELDS]
        help_texts = {"format_options": 'What the format needs, e.g. {"chat_id": "-1001234567890"} for telegram.'}

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_url(url)
        except TargetRefused as error:
            raise forms.ValidationError(str(error)) from None
        return url

    def clean(self):
        data = super().clean()
        if "format" in data:
            data["format"] = data["format"] or formats.DEFAULT
            try:
                data["format_options"] = services.check_format(
                    format=data["format"], format_options=data.get("format_options") or {}
                )
            except ValidationError as error:
                for name, problems in error.message_dict.items():
                    field, _, option = name.partition(".")
                    self.add_error(field, f"{option}: {problems[0]}" if option else problems[0])
        return data


def _outcome_line(endpoint: WebhookEndpoint, attempt: DeliveryAttempt) -> str:
    if attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED:
        result = f"HTTP {attempt.response_status}"
    else:
        result = f"failed: {attempt.delivery.last_error}"
    excerpt = attempt.response_body_excerpt[:200]
    return f"{endpoint.name}: {result} in {attempt.duration_ms} ms" + (f" — {excerpt}" if excerpt else "")


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    list_display = [
        "name", "url", "subscribed_events", "is_active", "last_delivery", "success_rate_24h", "disabled_reason",
    ]  # fmt: skip
    list_filter = ["is_active"]
    search_fields = ["id", "name", "url"]
    actions = ["send_test", "rotate_secret", "enable"]
    readonly_fields = [
        "id", "disabled_reason", "disabled_at", "failing_since", "previous_secret_expires_at",
        "created_at", "updated_at",
    ]  # fmt: skip

    def get_fields(self, request, obj=None):
        fields = list(ENDPOINT_FIELDS)
        return [*fields, "secret"] if obj is None else ["id", *fields, *self.readonly_fields[1:]]

    def get_queryset(self, request):
        since = timezone.now() - timedelta(hours=24)
        last = Delivery.objects.filter(endpoint=OuterRef("pk"), is_test=False).order_by("-created_at")
        recent = Q(deliveries__created_at__gte=since, deliveries__is_test=False)
        finished = recent & ~Q(deliveries__status=Delivery.Status.PENDING)
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_status=Subquery(last.values("status")[:1]),
                last_at=Subquery(last.values("created_at")[:1]),
                finished_24h=Count("deliveries", filter=finished),
                succeeded_24h=Count("deliveries", filter=recent & Q(deliveries__status=Delivery.Status.SUCCEEDED)),
            )
        )

    @admin.display(description="events")
    def subscribed_events(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(t.removeprefix("incident.") for t in endpoint.event_types) or "all events"

    @admin.display(description="last delivery", ordering="last_at")
    def last_delivery(self, endpoint) -> str:
        if not endpoint.last_status:
            return "—"
        return f"{endpoint.last_status} ({timezone.localtime(endpoint.last_at):%Y-%m-%d %H:%M})"

    @admin.display(description="success (24 h)")
    def success_rate_24h(self, endpoint) -> str:
        if not endpoint.finished_24h:
            return "—"
        return f"{100 * endpoint.succeeded_24h / endpoint.finished_24h:.0f}% of {endpoint.finished_24h}"

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {name: data[name] for name in ENDPOINT_FIELDS}
        if change:
            services.endpoint_update(endpoint=obj, **fields)
            return
        endpoint = services.endpoint_create(**fields, secret=data.get("secret") or None)
        obj.pk = endpoint.pk
        self.message_user(
            request,
            format_html(
                "Signing secret for <b>{}</b>: <code>{}</code> — copy it now, it is not shown again.",
                endpoint.name,
                endpoint.secret,
            ),
            messages.WARNING,
        )

    @admin.action(description="Send Test (a signed sample event, now)")
    def send_test(self, request, queryset):
        for endpoint in queryset:
            attempt = services.endpoint_send_test(endpoint=endpoint)
            level = messages.SUCCESS if attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED else messages.ERROR
            self.message_user(request, _outcome_line(endpoint, attempt), level)

    @admin.action(description="Enable (clears the disabled reason and the failing window)")
    def enable(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_update(endpoint=endpoint, is_active=True)
        self.message_user(request, f"Enabled {queryset.count()} endpoint(s).", messages.SUCCESS)

    @admin.action(description="Rotate secret (the old one keeps signing for the overlap window)")
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            services.endpoint_rotate_secret(endpoint=endpoint)
            self.message_user(
                request,
                format_html(
                    "New secret for <b>{}</b>: <code>{}</code> — copy it now, it is not shown again.",
                    endpoint.name,
                    endpoint.secret,
                ),
                messages.WARNING,
            )


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    fields = [
        "number", "started_at", "duration_ms", "outcome", "response_status",
        "error_class", "error_message", "response_body_excerpt", "response_headers",
    ]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id", "event_type", "endpoint", "status", "origin", "is_test",
        "attempt_count", "last_status_code", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "endpoint", "event__type", "is_test", "origin"]
    search_fields = ["=id", "=event__id", "=event__incident__id"]
    list_select_related = ["event", "endpoint"]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        # `body` is shown as "payload (as sent)", with the default format's too.
        return [field.name for field in Delivery._meta.fields if field.name != "body"] + ["payload"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    @admin.display(description="payload (as sent)")
    def payload(self, delivery: Delivery) -> str:
        return format_html("<pre style='white-space: pre-wrap'>{}</pre>", delivery.sent_body)

    @admin.action(description="Redeliver (same event, new delivery)")
    def redeliver(self, request, queryset):
        created = [services.delivery_redeliver(delivery=delivery) for delivery in queryset]
        self.message_user(request, f"Queued {len(created)} redelivery(ies).", messages.SUCCESS)
