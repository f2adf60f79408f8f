"""Webhook endpoints in the admin: health columns (failing since…, the last error, the next
retry), a deliveries-per-hour chart, Send Test, the secret shown once (POST/redirect/GET), the
public key, rotation after a confirmation, and replay (changes through webhooks.endpoints,
endpoint_signing and actions)."""

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from webhooks import selectors
from webhooks.actions import endpoint_replay, endpoint_send_test
from webhooks.admin import chart
from webhooks.admin.deliveries import deliveries_url
from webhooks.admin.endpoint_secrets import EndpointSecretsMixin
from webhooks.admin.forms import EDITABLE_FIELDS, EndpointForm
from webhooks.admin.html import AdminMedia, badge, local_time, milliseconds, relative, time_and_relative
from webhooks.endpoints import endpoint_create, endpoint_update
from webhooks.models import EVENT_TYPES, DeliveryAttempt, WebhookEndpoint


def endpoint_deliveries_url(endpoint: WebhookEndpoint, **filters: str) -> str:
    """The delivery log of one endpoint, narrowed by `filters` (the list's own parameters)."""
    return deliveries_url(endpoint__id__exact=endpoint.pk, **filters)


def pending_url(endpoint: WebhookEndpoint) -> str:
    """The rows the *pending* figure counts: real deliveries waiting for an attempt."""
    return endpoint_deliveries_url(endpoint, status__exact="pending", is_test__exact="0")


def failed_24h_url(endpoint: WebhookEndpoint) -> str:
    """The rows the *failed (24 h)* figure counts: real deliveries created in the last 24 h that failed."""
    return endpoint_deliveries_url(endpoint, status__exact="failed", is_test__exact="0", created_within="24h")


def failing_text(health: selectors.EndpointHealth, now=None) -> str:
    """`since 2026-11-29 21:12:03 UTC (21 min ago)`."""
    return f"since {time_and_relative(health.failing_since, now)}"


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(EndpointSecretsMixin, admin.ModelAdmin):
    form = EndpointForm

    class Media(AdminMedia):
        js = ["opsknight/copy.js"]  # the public key's Copy button

    change_form_template = "admin/webhooks/webhookendpoint/change_form.html"
    # Few, narrow columns: every one fits at 1440 px with the navigation sidebar open.
    list_display = ["name_and_url", "subscribed_events", "state", "last_delivery", "health_24h", "pending_failed"]
    list_filter = ["is_active"]
    search_fields = ["id", "name", "url"]
    actions = ["send_test", "rotate_secret", "rotate_key", "enable"]
    readonly_fields = [
        "id", "disabled_reason", "disabled_at", "failing_since", "previous_secret_expires_at",
        "created_at", "updated_at", "public_key_copy",
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

    @admin.display(description="name and URL", ordering="name")
    def name_and_url(self, endpoint: WebhookEndpoint) -> str:
        return format_html('{}<br><small class="ok-url">{}</small>', endpoint.name, endpoint.url)

    @admin.display(description="events")
    def subscribed_events(self, endpoint: WebhookEndpoint) -> str:
        return ", ".join(t.removeprefix("incident.") for t in endpoint.event_types) or "all events"

    @admin.display(description="state", ordering="is_active")
    def state(self, endpoint: WebhookEndpoint) -> str:
        """The switch (active or disabled, with the reason) and, while every attempt of an
        active endpoint fails, *failing* with since when, the last error and the next retry."""
        if not endpoint.is_active:
            return format_html("{}<br><small>{}</small>", badge("disabled"), endpoint.disabled_reason)
        health = endpoint.health
        if health.failing_since is None:
            return badge("active")
        retry = f"next retry {relative(health.next_attempt_at)}" if health.next_attempt_at else "no retry pending"
        return format_html(
            '{} <small>{}</small><br><small class="ok-error">{}</small><br><small>{}</small>',
            badge("failing"), failing_text(health), health.last_error or "—", retry,
        )  # fmt: skip

    @admin.display(description="last delivery")
    def last_delivery(self, endpoint) -> str:
        health = endpoint.health
        if not health.last_status:
            return "—"
        return format_html("{}<br><small>{}</small>", badge(health.last_status), local_time(health.last_at))

    @admin.display(description="success · p50 / p95 (24 h)")
    def health_24h(self, endpoint) -> str:
        health = endpoint.health
        rate = (
            "—" if health.success_rate_24h is None else f"{100 * health.success_rate_24h:.0f}% of {health.finished_24h}"
        )
        return format_html(
            '<span class="ok-rate">{}</span><br><small class="ok-durations">{} / {}</small>',
            rate, milliseconds(health.p50_ms), milliseconds(health.p95_ms),
        )  # fmt: skip

    @admin.display(description="pending / failed (24 h)")
    def pending_failed(self, endpoint) -> str:
        return format_html(
            '<a href="{}">{}</a> / <a href="{}">{}</a>',
            pending_url(endpoint), endpoint.health.pending, failed_24h_url(endpoint), endpoint.health.failed_24h,
        )  # fmt: skip

    @admin.display(description="public key")
    def public_key_copy(self, endpoint: WebhookEndpoint) -> str:
        """The `whpk_` key receivers verify `v1a` with (public: shown whenever asked), with a
        Copy button; the private key is never shown."""
        if not endpoint.public_key:
            return "— (signing hmac: no key pair)"
        current = format_html(
            '<div class="ok-secret"><code class="ok-secret-value" id="endpoint-public-key">{}</code>'
            '<button type="button" class="button ok-copy" id="copy-public-key">Copy</button>'
            '<span class="help ok-copy-status" aria-live="polite"></span></div>',
            endpoint.public_key,
        )
        expires = endpoint.previous_key_expires_at
        if endpoint.previous_public_key and expires and expires > timezone.now():
            current += format_html(
                "<p class=\"help\">The previous key, {}, also signs v1a until {}.</p>",
                endpoint.previous_public_key, local_time(expires),
            )  # fmt: skip
        return current

    # --- Add and change ---------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {name: data[name] for name in EDITABLE_FIELDS}
        if change:
            # From the stored row: the form has already copied its values onto obj, and the
            # service keeps stored header values the form shows redacted.
            stored = WebhookEndpoint.objects.get(pk=obj.pk)
            had_secret = bool(stored.secret)
            endpoint = endpoint_update(endpoint=stored, **fields)
            if endpoint.secret and not had_secret:  # a signing change made one: show it once
                request.new_secret_endpoint = endpoint
            return
        endpoint = endpoint_create(**fields, secret=data.get("secret") or None)
        obj.pk, obj.secret, obj.public_key = endpoint.pk, endpoint.secret, endpoint.public_key

    def response_change(self, request, obj):
        endpoint = getattr(request, "new_secret_endpoint", None)
        if endpoint is not None:  # a signing change made a shared secret: shown once, like a rotation's
            return self._redirect_to_secret(request, [endpoint], created=False)
        return super().response_change(request, obj)

    def add_view(self, request, form_url="", extra_context=None):
        # Every save leads to the secret, shown once: no "add another" or "continue" variants.
        extra_context = {**(extra_context or {}), "show_save_and_add_another": False, "show_save_and_continue": False}
        return super().add_view(request, form_url, extra_context)

    def response_add(self, request, obj, post_url_continue=None):
        # POST/redirect/GET: a reload of the page that shows the secret creates nothing.
        return self._redirect_to_secret(request, [obj], created=True)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        endpoint = self.get_object(request, unquote(object_id))
        if endpoint is not None:
            health = selectors.endpoints_health(endpoint_ids=[endpoint.pk])[endpoint.pk]
            hours = selectors.endpoint_deliveries_per_hour(endpoint=endpoint)
            extra_context = {
                **(extra_context or {}),
                "health": health,
                "p50": milliseconds(health.p50_ms),
                "p95": milliseconds(health.p95_ms),
                "success_rate": None if health.success_rate_24h is None else f"{100 * health.success_rate_24h:.0f}%",
                "chart": mark_safe(chart.deliveries_per_hour_svg(hours)),  # noqa: S308 - built from numbers only
                "event_types": EVENT_TYPES.choices,
                "test_attempt": self._test_attempt(endpoint, request.GET.get("test_delivery")),
                "deliveries_url": endpoint_deliveries_url(endpoint),
                "pending_url": pending_url(endpoint),
                "failed_24h_url": failed_24h_url(endpoint),
                "failing_since": failing_text(health) if health.failing_since else None,
                "next_attempt": time_and_relative(health.next_attempt_at) if health.next_attempt_at else None,
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
        admin_view = self.admin_site.admin_view

        def view(function):
            return admin_view(require_POST(function))

        return [
            path(
                "secret/<str:token>/",
                self.admin_site.admin_view(self.secret_view),
                name="webhooks_webhookendpoint_secret",
            ),
            path("<path:object_id>/send-test/", view(self.send_test_view), name="webhooks_webhookendpoint_send_test"),
            path(
                "<path:object_id>/rotate-secret/", admin_view(self.rotate_view), name="webhooks_webhookendpoint_rotate"
            ),
            path("<path:object_id>/replay/", view(self.replay_view), name="webhooks_webhookendpoint_replay"),
            path(
                "<path:object_id>/rotate-key/", view(self.rotate_key_view), name="webhooks_webhookendpoint_rotate_key"
            ),
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
        self.log_change(request, endpoint, f"Send Test ({event_type}): {send_test_outcome_line(attempt)[:150]}")
        # Redirect to a page that shows this attempt: reloading it does not send again.
        return HttpResponseRedirect(f"{self._change_url(endpoint)}?test_delivery={attempt.delivery_id}#send-test")

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
            f"Queued {count} delivery(ies): every event since {local_time(since)} that {endpoint.name} subscribes to.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(endpoint_deliveries_url(endpoint, origin__exact="replay"))

    # --- List actions -----------------------------------------------------------------

    @admin.action(description="Send Test (a signed sample event, now)")
    def send_test(self, request, queryset):
        for endpoint in queryset:
            attempt = endpoint_send_test(endpoint=endpoint)
            level = messages.SUCCESS if attempt.outcome == DeliveryAttempt.Outcome.SUCCEEDED else messages.ERROR
            self.message_user(request, f"{endpoint.name}: {send_test_outcome_line(attempt)}", level)

    @admin.action(description="Enable (clears the disabled reason and the failing window)")
    def enable(self, request, queryset):
        for endpoint in queryset:
            endpoint_update(endpoint=endpoint, is_active=True)
        self.message_user(request, f"Enabled {queryset.count()} endpoint(s).", messages.SUCCESS)


def send_test_outcome_line(attempt: DeliveryAttempt) -> str:
    result = f"HTTP {attempt.response_status}" if attempt.response_status is not None else "no answer"
    if attempt.outcome != DeliveryAttempt.Outcome.SUCCEEDED:
        result = f"failed: {attempt.delivery.last_error or result}"
    excerpt = attempt.response_body_excerpt[:200]
    return f"{result} in {attempt.duration_ms} ms" + (f" — {excerpt}" if excerpt else "")
