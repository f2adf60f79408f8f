"""Deliveries in the admin: the log with filters, one delivery's exact request and every
attempt (read-only pages), and Redeliver. Changes go through webhooks.actions."""

import json
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from webhooks import selectors
from webhooks.actions import delivery_redeliver
from webhooks.admin.html import (
    AdminMedia,
    badge,
    delivery_badge,
    delivery_state,
    headers_table,
    local_time,
    next_attempt_text,
    preformatted,
    time_and_relative,
    two_line_time,
)
from webhooks.models import Delivery, DeliveryAttempt, WebhookEndpoint


def deliveries_url(**filters: str) -> str:
    """The delivery log narrowed by the list's own query parameters. Values are URL-encoded
    as query values (the admin's quote() is for ids in URL paths: it turns `_` into `_5F`)."""
    return reverse("admin:webhooks_delivery_changelist") + (f"?{urlencode(filters)}" if filters else "")


class EndpointNameFilter(admin.RelatedFieldListFilter):
    """Endpoints by name: their URLs would widen the filter column past the page."""

    def field_choices(self, field, request, model_admin):
        return list(WebhookEndpoint.objects.order_by("name").values_list("pk", "name"))


class CreatedWithinFilter(admin.SimpleListFilter):
    """*Created in the last 24 hours*: the window of the endpoint health figures, so a
    figure's link lists exactly the rows it counts."""

    title = "created in the last"
    parameter_name = "created_within"

    def lookups(self, request, model_admin):
        return [("24h", "24 hours")]

    def queryset(self, request, queryset):
        if self.value() == "24h":
            return queryset.filter(created_at__gte=timezone.now() - selectors.HEALTH_WINDOW)
        return queryset


# The list's origin column, in a word (the filter and the delivery's page say it in full).
ORIGIN_SHORT = {
    Delivery.Origin.EVENT: "event",
    Delivery.Origin.TEST: "test",
    Delivery.Origin.REDELIVER: "redelivery",
    Delivery.Origin.REPLAY: "replay",
}


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    verbose_name_plural = "attempts"
    fields = ["number", "started", "duration", "result", "response", "headers_received"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="started")
    def started(self, attempt: DeliveryAttempt) -> str:
        return local_time(attempt.started_at)

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
        return preformatted(attempt.response_body_excerpt) if attempt.response_body_excerpt else "—"

    @admin.display(description="response headers")
    def headers_received(self, attempt: DeliveryAttempt) -> str:
        return headers_table(attempt.response_headers)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    Media = AdminMedia
    change_form_template = "admin/webhooks/delivery/change_form.html"
    # Narrow columns: every one fits at 1440 px with the navigation sidebar open.
    list_display = [
        "id", "status_badge", "event_type", "endpoint_name", "origin_short", "attempts", "last_code", "created_cell",
    ]  # fmt: skip
    list_filter = [
        "status", ("endpoint", EndpointNameFilter), "event__type", "is_test", "origin", CreatedWithinFilter,
        ("created_at", admin.DateFieldListFilter),
    ]  # fmt: skip
    search_fields = ["=id", "=event__id", "=event__incident__id"]
    search_help_text = "A delivery id (dlv_…), an event id (evt_…) or an incident id (inc_…)."
    list_select_related = ["event", "endpoint"]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]
    date_hierarchy = "created_at"
    overview = [
        "id", "status_badge", "endpoint_link", "event_link", "event_type", "incident_link", "origin",
        "redelivery_links", "waiting", "is_test", "attempt_count", "next_attempt", "last_status_code", "last_error",
        "created",
        "completed",
    ]  # fmt: skip
    fieldsets = [(None, {"fields": overview}), ("Request", {"fields": ["request_line", "request_headers", "payload"]})]

    def get_readonly_fields(self, request, obj=None):
        return [name for fieldset in self.fieldsets for name in fieldset[1]["fields"]]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("event", "endpoint", "redelivery_of")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The log is what happened: its pages are read-only ("View delivery", no Save).
        # Redeliver is allowed to whoever may change deliveries (may_redeliver).
        return False

    def may_redeliver(self, request) -> bool:
        return super().has_change_permission(request)

    def has_redeliver_permission(self, request) -> bool:  # for the list action
        return self.may_redeliver(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_redeliver": self.may_redeliver(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="status", ordering="status")
    def status_badge(self, delivery: Delivery) -> str:
        """`retrying` for a pending delivery that already failed an attempt, with when."""
        if delivery_state(delivery) == "retrying" and delivery.next_attempt_at:
            return format_html(
                "{}<br><small>{}</small>", delivery_badge(delivery), next_attempt_text(delivery.next_attempt_at)
            )
        return delivery_badge(delivery)

    @admin.display(description="next attempt")
    def next_attempt(self, delivery: Delivery) -> str:
        if delivery.next_attempt_at is None:
            return "— (finished)" if delivery.status != Delivery.Status.PENDING else "—"
        return time_and_relative(delivery.next_attempt_at)

    @admin.display(description="completed")
    def completed(self, delivery: Delivery) -> str:
        return local_time(delivery.completed_at)

    @admin.display(description="waiting")
    def waiting(self, delivery: Delivery) -> str:
        """For an endpoint with per-incident ordering: the earlier delivery this one waits behind."""
        if not delivery.ordered or delivery.status != Delivery.Status.PENDING:
            return "—"
        earlier = Delivery.objects.earlier_pending(delivery).order_by("sequence", "created_at").first()
        if earlier is None:
            return "no: next in its incident's order"
        return format_html(
            'behind <a href="{}" id="waiting-behind">{}</a> (per-incident order)', self._url(earlier.pk), earlier.pk
        )

    @admin.display(description="redelivery")
    def redelivery_links(self, delivery: Delivery) -> str:
        """Which delivery this one repeats, and the redeliveries of this one."""
        parts = []
        if delivery.redelivery_of_id:
            url = reverse("admin:webhooks_delivery_change", args=[quote(delivery.redelivery_of_id)])
            parts.append(format_html('repeats <a href="{}" id="redelivery-of">{}</a>', url, delivery.redelivery_of_id))
        again = list(delivery.redeliveries.order_by("created_at").values_list("pk", flat=True))
        if again:
            links = format_html_join(", ", '<a href="{}">{}</a>', ((self._url(pk), pk) for pk in again))
            parts.append(format_html("redelivered as {}", links))
        return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts)) if parts else "—"

    @staticmethod
    def _url(pk: str) -> str:
        return reverse("admin:webhooks_delivery_change", args=[quote(pk)])

    @admin.display(description="event type", ordering="event__type")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    @admin.display(description="origin", ordering="origin")
    def origin_short(self, delivery: Delivery) -> str:
        return ORIGIN_SHORT.get(delivery.origin, delivery.origin)

    @admin.display(description="created", ordering="created_at")
    def created_cell(self, delivery: Delivery) -> str:
        return two_line_time(delivery.created_at)

    @admin.display(description="attempts", ordering="attempt_count")
    def attempts(self, delivery: Delivery) -> int:
        return delivery.attempt_count

    @admin.display(description="last HTTP", ordering="last_status_code")
    def last_code(self, delivery: Delivery) -> str:
        return "—" if delivery.last_status_code is None else str(delivery.last_status_code)

    @admin.display(description="created", ordering="created_at")
    def created(self, delivery: Delivery) -> str:
        return local_time(delivery.created_at)

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
        return headers_table(attempt.request_headers)

    @admin.display(description="body")
    def payload(self, delivery: Delivery) -> str:
        try:
            pretty = json.dumps(json.loads(delivery.sent_body), indent=2, ensure_ascii=False)
        except ValueError:
            pretty = delivery.sent_body
        return format_html(
            '{}<details><summary>Exact bytes as sent</summary><pre class="ok-pre">{}</pre></details>',
            preformatted(pretty),
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
        if not self.may_redeliver(request):
            raise PermissionDenied
        redelivery = delivery_redeliver(delivery=delivery)
        self.message_user(request, f"Queued {redelivery.id}: the same event, to the same endpoint.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:webhooks_delivery_change", args=[quote(redelivery.pk)]))

    @admin.action(description="Redeliver (same event, new delivery)", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        created = [delivery_redeliver(delivery=delivery) for delivery in queryset.select_related("event")]
        self.message_user(request, f"Queued {len(created)} redelivery(ies).", messages.SUCCESS)
