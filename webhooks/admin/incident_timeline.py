"""The incident admin, re-registered with a timeline that shows each entry's webhook
deliveries: `incidents` never imports `webhooks` (incidents/admin.py points here)."""

from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from incidents.admin import IncidentAdmin, IncidentEventInline
from incidents.models import Incident
from webhooks.admin.html import AdminMedia, delivery_badge, next_attempt_text
from webhooks.models import Delivery


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
            '<a href="{}">{}</a> {} <small>{} attempt(s){}{}</small>',
            (
                (
                    reverse("admin:webhooks_delivery_change", args=[quote(delivery.pk)]),
                    delivery.endpoint.name,
                    delivery_badge(delivery),
                    delivery.attempt_count,
                    "" if delivery.origin == Delivery.Origin.EVENT else f", {delivery.get_origin_display().lower()}",
                    _next(delivery),
                )
                for delivery in deliveries
            ),
        )


def _next(delivery: Delivery) -> str:
    if delivery.status != Delivery.Status.PENDING or delivery.next_attempt_at is None:
        return ""
    return f", {next_attempt_text(delivery.next_attempt_at)}"


class IncidentWithDeliveriesAdmin(IncidentAdmin):
    Media = AdminMedia
    # The incident admin's inlines, with the timeline swapped for the one with deliveries.
    inlines = [TimelineWithDeliveriesInline if i is IncidentEventInline else i for i in IncidentAdmin.inlines]


admin.site.unregister(Incident)
admin.site.register(Incident, IncidentWithDeliveriesAdmin)
