"""Webhook admin: endpoints (health, a deliveries-per-hour chart, Send Test with its
outcome inline, secret shown once with a copy button, rotation, replay), deliveries
(the exact request, every attempt, Redeliver) and the incident timeline's deliveries.
Every change goes through webhooks.services; reads go through webhooks.selectors."""

import json
from datetime import datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from incidents.admin import IncidentAdmin, IncidentEventInline
from incidents.models import Incident
from webhooks import charts, formats, selectors, transport
from webhooks.actions import delivery_redeliver, endpoint_replay, endpoint_send_test
from webhooks.endpoints import (
    MIN_TYPED_SECRET_LENGTH,
    check_format,
    endpoint_check_url_move,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_update,
)
from webhooks.models import EVENT_TYPES, Delivery, DeliveryAttempt, WebhookEndpoint
from webhooks.transport.addresses import TargetRefused, check_url

EVENT_DESCRIPTIONS = {
    EVENT_TYPES.TRIGGERED: "an incident is declared",
    EVENT_TYPES.ACKNOWLEDGED: "someone takes it",
    EVENT_TYPES.ESCALATED: "it is escalated one level",
    EVENT_TYPES.RESOLVED: "it is resolved",
    EVENT_TYPES.REOPENED: "a resolved incident comes back",
}


class AdminMedia:
    css = {"all": ["opsknight/admin.css"]}


def badge(status: str | None, text: str | None = None) -> str:
    """A coloured label for a delivery or attempt status."""
    if not status:
        return "—"
    return format_html('<span class="ok-badge ok-badge-{}">{}</span>', status, text or status)


def _when(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if moment else "—"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def endpoint_deliveries_url(endpoint: WebhookEndpoint) -> str:
    return reverse("admin:webhooks_delivery_changelist") + f"?endpoint__id__exact={quote(endpoint.pk)}"


def headers_text(headers: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers.items())


EDITABLE_FIELDS = ["name", "url", "event_types", "format", "format_options", "is_active", "headers", "description"]


class HeadersField(forms.CharField):
    """Custom headers typed one per line as `Name: value`."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 60, "placeholder": "Authorization: Bearer ...\nX-Tenant: acme"})

    def to_python(self, value) -> dict[str, str]:
        headers: dict[str, str] = {}
        for number, line in enumerate((value or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, header_value = line.partition(":")
            if not colon:
                raise ValidationError(f"Line {number}: write each header as 'Name: value'.")
            headers[name.strip()] = header_value.strip()
        return headers

    def validate(self, value) -> None:
        errors = transport.custom_header_errors(value)
        if errors:
            raise ValidationError(errors)

    def prepare_value(self, value):
        return headers_text(value) if isinstance(value, dict) else value


class EndpointForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        choices=[(value, f"{value} — {EVENT_DESCRIPTIONS[value]}") for value in EVENT_TYPES.values],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Leave every box empty to receive all event types, including ones added later.",
    )
    format = forms.ChoiceField(
        choices=[(name, name) for name in formats.NAMES],
        required=False,
        initial=formats.DEFAULT,
        help_text="What the endpoint receives: the OpsKnight JSON, a chat message or incident.io's envelope.",
    )
    headers = HeadersField(
        required=False,
        help_text=(
            "Extra headers sent on every attempt, one 'Name: value' per line. Content-Type, User-Agent, Host, "
            "webhook-* and X-OpsKnight-* are set by OpsKnight and refused here. Credential-like values show as "
            f"{transport.REDACTED}; leave that in place to keep the stored value."
        ),
    )
    secret = forms.CharField(
        required=False,
        min_length=MIN_TYPED_SECRET_LENGTH,
        max_length=200,
        help_text="Leave empty to generate one (recommended). It is shown once, after saving.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = [*EDITABLE_FIELDS]
        help_texts = {"format_options": 'What the format needs, e.g. {"chat_id": "-1001234567890"} for telegram.'}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["headers"] = transport.redact_headers(self.instance.headers, custom=self.instance.headers)

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
                data["format_options"] = check_format(
                    format=data["format"], format_options=data.get("format_options") or {}
                )
            except ValidationError as error:
                for name, problems in error.message_dict.items():
                    field, _, option = name.partition(".")
                    self.add_error(field, f"{option}: {problems[0]}" if option else problems[0])
        if not self.instance._state.adding and "url" in data and "headers" in data:
            stored = WebhookEndpoint.objects.get(pk=self.instance.pk)
            try:
                endpoint_check_url_move(endpoint=stored, new_url=data["url"], new_headers=data["headers"])
            except ValidationError as error:
                self.add_error("headers", error.message_dict["headers"][0])
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = EndpointForm
    Media = AdminMedia
    change_form_template = "admin/webhooks/webhookendpoint/change_form.html"
    list_display = [
        "name", "url", "subscribed_events", "state", "last_delivery", "success_rate_24h", "duration_24h",
        "pending_failed",
    ]  # fmt: skip
    list_filter = ["is_active"]
    search_fields = ["id", "name", "url"]
    actions = ["send_test", "rotate_secret", "enable"]
    readonly_fields = [
        "id", "disabled_reason", "disabled_at", "failing_since", "previous_secret_expires_at",
        "created_at", "updated_at",
    ]  # fmt: skip

    def get_fields(self, request, obj=None):
        return [*EDITABLE_FIELDS, "secret"] if obj is None else ["id", *EDITABLE_FIELDS, *self.readonly_fields[1:]]

    def get_changelist_instance(self, request):
        """Health for the page's endpoints in a fixed number of queries, however many rows."""
        changelist = super().get_changelist_instance(request)
        health = selectors.endpoints_health(endpoint_ids=[endpoint.pk for endpoint in changelist.result_list])
        for endpoint in changelist.result_list:
            endpoint.health = health.get(endpoint.pk, selectors.EndpointHealth(endpoint=endpoint))
        return changelist

    # --- List columns -----------------------------------------------------------------

    @admin.display(description="events")
    def subscribed_events(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(t.removeprefix("incident.") for t in endpoint.event_types) or "all events"

    @admin.display(description="state", ordering="is_active")
    def state(self, endpoint: WebhookEndpoint) -> str:
        if endpoint.is_active:
            return badge("active")
        return format_html("{}<br><small>{}</small>", badge("disabled"), endpoint.disabled_reason)

    @admin.display(description="last delivery")
    def last_delivery(self, endpoint) -> str:
        health = endpoint.health
        if not health.last_status:
            return "—"
        return format_html("{} {}", badge(health.last_status), f"{timezone.localtime(health.last_at):%Y-%m-%d %H:%M}")

    @admin.display(description="success (24 h)")
    def success_rate_24h(self, endpoint) -> str:
        health = endpoint.health
        if health.success_rate_24h is None:
            return "—"
        return f"{100 * health.success_rate_24h:.0f}% of {health.finished_24h}"

    @admin.display(description="p50 / p95 (24 h)")
    def duration_24h(self, endpoint) -> str:
        return f"{_ms(endpoint.health.p50_ms)} / {_ms(endpoint.health.p95_ms)}"

    @admin.display(description="pending / failed (24 h)")
    def pending_failed(self, endpoint) -> str:
        deliveries = reverse("admin:webhooks_delivery_changelist")
        return format_html(
            '<a href="{}?endpoint__id__exact={}&status__exact=pending">{}</a> / '
            '<a href="{}?endpoint__id__exact={}&status__exact=failed">{}</a>',
            deliveries, endpoint.pk, endpoint.health.pending, deliveries, endpoint.pk, endpoint.health.failed_24h,
        )  # fmt: skip

    # --- Add and change ---------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {name: data[name] for name in EDITABLE_FIELDS}
        if change:
            # From the stored row: the form has already copied its values onto obj, and the
            # service keeps stored header values the form shows redacted.
            endpoint_update(endpoint=WebhookEndpoint.objects.get(pk=obj.pk), **fields)
            return
        endpoint = endpoint_create(**fields, secret=data.get("secret") or None)
        obj.pk, obj.secret = endpoint.pk, endpoint.secret

    def response_add(self, request, obj, post_url_continue=None):
        # The answer to the POST is the one page that shows the secret: no redirect, no
        # message stored in a cookie or session.
        return self._secret_page(request, [obj], created=True)

    def _secret_page(self, request, endpoints: list[WebhookEndpoint], *, created: bool) -> TemplateResponse:
        """The one page that shows secrets: the answer to a creation or a rotation. Not a
        redirect with a message, so a secret never sits in a cookie or the session."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Endpoint created: copy its signing secret" if created else "Secret rotated: copy the new one",
            "created": created,
            "endpoints": [
                {"endpoint": endpoint, "change_url": self._change_url(endpoint), "number": number}
                for number, endpoint in enumerate(endpoints)
            ],
        }
        # admin_view() marks it never_cache: no copy of the secret in a browser cache.
        return TemplateResponse(request, "admin/webhooks/webhookendpoint/secret.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        endpoint = self.get_object(request, unquote(object_id))
        if endpoint is not None:
            health = selectors.endpoints_health(endpoint_ids=[endpoint.pk])[endpoint.pk]
            hours = selectors.endpoint_deliveries_per_hour(endpoint=endpoint)
            extra_context = {
                **(extra_context or {}),
                "health": health,
                "p50": _ms(health.p50_ms),
                "p95": _ms(health.p95_ms),
                "success_rate": None if health.success_rate_24h is None else f"{100 * health.success_rate_24h:.0f}%",
                "chart": mark_safe(charts.deliveries_per_hour_svg(hours)),  # noqa: S308 - built from numbers only
                "event_types": EVENT_TYPES.choices,
                "test_attempt": self._test_attempt(endpoint, request.GET.get("test_delivery")),
                "deliveries_url": endpoint_deliveries_url(endpoint),
                "replay_default": f"{timezone.localtime(timezone.now() - selectors.HEALTH_WINDOW):%Y-%m-%dT%H:%M}",
            }
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _test_attempt(endpoint: WebhookEndpoint, delivery_id: str | None) -> DeliveryAttempt | None:
        if not delivery_id:
            return None
        return (
            DeliveryAttempt.objects.filter(delivery_id=delivery_id, delivery__endpoint=endpoint, delivery__is_test=True)
            .select_related("delivery__event")
            .first()
        )

    # --- Buttons on the change page ---------------------------------------------------

    def get_urls(self):
        def view(function):
            return self.admin_site.admin_view(require_POST(function))

        return [
            path("<path:object_id>/send-test/", view(self.send_test_view), name="webhooks_webhookendpoint_send_test"),
            path("<path:object_id>/rotate-secret/", view(self.rotate_view), name="webhooks_webhookendpoint_rotate"),
            path("<path:object_id>/replay/", view(self.replay_view), name="webhooks_webhookendpoint_replay"),
            *super().get_urls(),
        ]

    def _endpoint_to_change(self, request, object_id: str) -> WebhookEndpoint:
        endpoint = get_object_or_404(WebhookEndpoint, pk=unquote(object_id))
        if not self.has_change_permission(request, endpoint):
            raise PermissionDenied
        return endpoint

    def _change_url(self, endpoint: WebhookEndpoint) -> str:
        return reverse("admin:webhooks_webhookendpoint_change", args=[quote(endpoint.pk)])

    def send_test_view(self, request, object_id):
        endpoint = self._endpoint_to_change(request, object_id)
        event_type = request.POST.get("event_type") or EVENT_TYPES.TRIGGERED
        if event_type not in EVENT_TYPES.values:
            self.message_user(request, f"Unknown event type '{event_type[:100]}'.", messages.ERROR)
            return HttpResponseRedirect(self._change_url(endpoint))
        attempt = endpoint_send_test(endpoint=endpoint, event_type=event_type)
        self.log_change(request, endpoint, f"Send Test ({event_type}): {test_outcome_line(attempt)[:150]}")
        # Redirect to a page that shows this attempt: reloading it does not send again.
        return HttpResponseRedirect(f"{self._change_url(endpoint)}?test_delivery={attempt.delivery_id}#send-test")

    def rotate_view(self, request, object_id):
        endpoint = endpoint_rotate_secret(endpoint=self._endpoint_to_change(request, object_id))
        self.log_change(request, endpoint, "Rotated the signing secret.")
        return self._secret_page(request, [endpoint], created=False)

    def replay_view(self, request, object_id):
        endpoint = self._endpoint_to_change(request, object_id)
        try:
            since = parse_datetime(request.POST.get("since", "").strip())
        except ValueError:  # well-formed but not a date, like month 13
            since = None
        if since is None:
            self.message_user(request, "Give the date and time to replay from, e.g. 2024-01-15 10:30.", messages.ERROR)
            return HttpResponseRedirect(self._change_url(endpoint))
        if timezone.is_naive(since):
            since = timezone.make_aware(since)
        count = endpoint_replay(endpoint=endpoint, since=since)
        self.log_change(request, endpoint, f"Replayed {count} event(s) since {since.isoformat()}.")
        self.message_user(
            request,
            f"Queued {count} delivery(ies): every event since {_when(since)} that {endpoint.name} subscribes to.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(endpoint_deliveries_url(endpoint))

    # --- List actions -----------------------------------------------------------------

    @admin.action(description="Send Test (a signed sample event, now)")
    def send_test(self, request, queryset):
        for endpoint in queryset:
            attempt = endpoint_send_test(endpoint=endpoint)
            level = messages.SUCCESS if attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED else messages.ERROR
            self.message_user(request, f"{endpoint.name}: {test_outcome_line(attempt)}", level)

    @admin.action(description="Enable (clears the disabled reason and the failing window)")
    def enable(self, request, queryset):
        for endpoint in queryset:
            endpoint_update(endpoint=endpoint, is_active=True)
        self.message_user(request, f"Enabled {queryset.count()} endpoint(s).", messages.SUCCESS)

    @admin.action(description="Rotate secret (the old one keeps signing for the overlap window)")
    def rotate_secret(self, request, queryset):
        rotated = [endpoint_rotate_secret(endpoint=endpoint) for endpoint in queryset]
        for endpoint in rotated:
            self.log_change(request, endpoint, "Rotated the signing secret.")
        return self._secret_page(request, rotated, created=False)


def test_outcome_line(attempt: DeliveryAttempt) -> str:
    result = f"HTTP {attempt.response_status}" if attempt.response_status is not None else "no answer"
    if attempt.outcome != DeliveryAttempt.Outcome.SUCCEEDED:
        result = f"failed: {attempt.delivery.last_error or result}"
    excerpt = attempt.response_body_excerpt[:200]
    return f"{result} in {attempt.duration_ms} ms" + (f" — {excerpt}" if excerpt else "")


# --- Deliveries ----------------------------------------------------------------------------


def _pre(text: str) -> str:
    return format_html('<pre class="ok-pre">{}</pre>', text)


def _headers_table(headers: dict) -> str:
    if not headers:
        return "—"
    rows = format_html_join("", "<tr><th>{}</th><td><code>{}</code></td></tr>", sorted(headers.items()))
    return format_html('<table class="ok-headers">{}</table>', rows)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    verbose_name_plural = "attempts"
    fields = ["number", "started_at", "duration", "result", "response", "headers_received"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="duration")
    def duration(self, attempt: DeliveryAttempt) -> str:
        return f"{attempt.duration_ms} ms"

    @admin.display(description="result")
    def result(self, attempt: DeliveryAttempt) -> str:
        status = f"HTTP {attempt.response_status}" if attempt.response_status is not None else "no answer"
        error = f"{attempt.error_class}: {attempt.error_message}" if attempt.error_class else ""
        return format_html("{} {}<br><small>{}</small>", badge(attempt.outcome), status, error)

    @admin.display(description="response excerpt")
    def response(self, attempt: DeliveryAttempt) -> str:
        return _pre(attempt.response_body_excerpt) if attempt.response_body_excerpt else "—"

    @admin.display(description="response headers")
    def headers_received(self, attempt: DeliveryAttempt) -> str:
        return _headers_table(attempt.response_headers)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    Media = AdminMedia
    change_form_template = "admin/webhooks/delivery/change_form.html"
    list_display = [
        "id", "status_badge", "event_type", "endpoint_name", "origin", "attempts", "last_code", "created",
    ]  # fmt: skip
    list_filter = ["status", "endpoint", "event__type", "is_test", "origin", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["=id", "=event__id", "=event__incident__id"]
    search_help_text = "A delivery id (dlv_…), an event id (evt_…) or an incident id (inc_…)."
    list_select_related = ["event", "endpoint"]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]
    date_hierarchy = "created_at"
    overview = [
        "id", "status_badge", "endpoint_link", "event_link", "event_type", "incident_link", "origin", "is_test",
        "attempt_count", "next_attempt_at", "last_status_code", "last_error", "created_at", "completed_at",
    ]  # fmt: skip
    fieldsets = [(None, {"fields": overview}), ("Request", {"fields": ["request_line", "request_headers", "payload"]})]

    def get_readonly_fields(self, request, obj=None):
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event", "endpoint")

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="status", ordering="status")
    def status_badge(self, delivery: Delivery) -> str:
        return badge(delivery.status)

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    @admin.display(description="attempts", ordering="attempt_count")
    def attempts(self, delivery: Delivery) -> int:
        return delivery.attempt_count

    @admin.display(description="last HTTP", ordering="last_status_code")
    def last_code(self, delivery: Delivery) -> str:
        return "—" if delivery.last_status_code is None else str(delivery.last_status_code)

    @admin.display(description="created", ordering="created_at")
    def created(self, delivery: Delivery) -> str:
        return f"{timezone.localtime(delivery.created_at):%Y-%m-%d %H:%M:%S}"

    @admin.display(description="endpoint", ordering="endpoint__name")
    def endpoint_name(self, delivery: Delivery) -> str:
        return delivery.endpoint.name

    @admin.display(description="endpoint")
    def endpoint_link(self, delivery: Delivery) -> str:
        url = reverse("admin:webhooks_webhookendpoint_change", args=[quote(delivery.endpoint_id)])
        return format_html('<a href="{}">{}</a>', url, delivery.endpoint)

    @admin.display(description="event")
    def event_link(self, delivery: Delivery) -> str:
        url = reverse("admin:webhooks_delivery_changelist") + f"?q={delivery.event_id}"
        return format_html('{} (<a href="{}">all its deliveries</a>)', delivery.event_id, url)

    @admin.display(description="incident")
    def incident_link(self, delivery: Delivery) -> str:
        if not delivery.event.incident_id:
            return "— (a test event)" if delivery.is_test else "—"
        url = reverse("admin:incidents_incident_change", args=[quote(delivery.event.incident_id)])
        return format_html('<a href="{}">{}</a>', url, delivery.event.incident_id)

    def _last_attempt(self, delivery: Delivery) -> DeliveryAttempt | None:
        attempts = list(delivery.attempts.all())
        return attempts[-1] if attempts else None

    @admin.display(description="request")
    def request_line(self, delivery: Delivery) -> str:
        return format_html("<code>POST {}</code>", delivery.endpoint.url)

    @admin.display(description="headers (of the last attempt)")
    def request_headers(self, delivery: Delivery) -> str:
        attempt = self._last_attempt(delivery)
        if attempt is None:
            return "Not sent yet: the headers are signed when an attempt is made."
        return _headers_table(attempt.request_headers)

    @admin.display(description="body")
    def payload(self, delivery: Delivery) -> str:
        try:
            pretty = json.dumps(json.loads(delivery.sent_body), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = delivery.sent_body
        return format_html(
            '{}<details><summary>Exact bytes as sent</summary><pre class="ok-pre">{}</pre></details>',
            _pre(pretty),
            delivery.sent_body,
        )

    def get_urls(self):
        redeliver = self.admin_site.admin_view(require_POST(self.redeliver_view))
        return [
            path("<path:object_id>/redeliver/", redeliver, name="webhooks_delivery_redeliver"),
            *super().get_urls(),
        ]

    def redeliver_view(self, request, object_id):
        delivery = get_object_or_404(Delivery.objects.select_related("event", "endpoint"), pk=unquote(object_id))
        if not self.has_change_permission(request, delivery):
            raise PermissionDenied
        redelivery = delivery_redeliver(delivery=delivery)
        self.message_user(request, f"Queued {redelivery.id}: the same event, to the same endpoint.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:webhooks_delivery_change", args=[quote(redelivery.pk)]))

    @admin.action(description="Redeliver (same event, new delivery)")
    def redeliver(self, request, queryset):
        created = [delivery_redeliver(delivery=delivery) for delivery in queryset.select_related("event")]
        self.message_user(request, f"Queued {len(created)} redelivery(ies).", messages.SUCCESS)


# --- The incident timeline, with the deliveries each event caused ---------------------------
# `incidents` never imports `webhooks`: the webhooks app extends the incident admin instead,
# re-registering it with a timeline that also shows each entry's deliveries.


class TimelineWithDeliveriesInline(IncidentEventInline):
    fields = [*IncidentEventInline.fields, "deliveries"]
    readonly_fields = fields

    def get_queryset(self, request):
        # Two queries for the whole timeline: entries with their event, then the deliveries.
        deliveries = Delivery.objects.select_related("endpoint").order_by("created_at")
        return (
            super()
            .get_queryset(request)
            .select_related("webhook_event")
            .prefetch_related(Prefetch("webhook_event__deliveries", queryset=deliveries))
        )

    @admin.display(description="webhook deliveries")
    def deliveries(self, entry) -> str:
        event = getattr(entry, "webhook_event", None)
        deliveries = list(event.deliveries.all()) if event else []
        if not deliveries:
            return "none (no subscribed endpoint)"
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> {} <small>{} attempt(s){}</small>',
            (
                (
                    reverse("admin:webhooks_delivery_change", args=[quote(delivery.pk)]),
                    delivery.endpoint.name,
                    badge(delivery.status),
                    delivery.attempt_count,
                    "" if delivery.origin == Delivery.Origin.EVENT else f", {delivery.get_origin_display().lower()}",
                )
                for delivery in deliveries
            ),
        )


class IncidentWithDeliveriesAdmin(IncidentAdmin):
    Media = AdminMedia
    # The incident admin's inlines, with the timeline swapped for the one with deliveries.
    inlines = [TimelineWithDeliveriesInline if i is IncidentEventInline else i for i in IncidentAdmin.inlines]


admin.site.unregister(Incident)
admin.site.register(Incident, IncidentWithDeliveriesAdmin)
