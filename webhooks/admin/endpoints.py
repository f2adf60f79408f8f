"""Webhook endpoints in the admin: health columns (failing since…, the last error, the next
retry), a deliveries-per-hour chart, Send Test, the secret shown once (POST/redirect/GET), the
public key, rotation after a confirmation, and replay (changes through webhooks.endpoints,
endpoint_signing and actions)."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from opsknight.errors import ConflictError
from webhooks import selectors
from webhooks.actions import endpoint_replay, endpoint_send_test
from webhooks.admin import chart
from webhooks.admin.deliveries import deliveries_url
from webhooks.admin.forms import EDITABLE_FIELDS, EndpointForm
from webhooks.admin.html import AdminMedia, badge, local_time, milliseconds, relative, time_and_relative
from webhooks.admin.secrets import secret_ticket_issue, secret_ticket_redeem
from webhooks.endpoint_signing import endpoint_rotate_signing_key
from webhooks.endpoints import endpoint_create, endpoint_rotate_secret, endpoint_update
from webhooks.models import EVENT_TYPES, DeliveryAttempt, Signing, WebhookEndpoint


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
class WebhookEndpointAdmin(admin.ModelAdmin):
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

    def _redirect_to_secret(self, request, endpoints: list[WebhookEndpoint], *, created: bool):
        token = secret_ticket_issue(session=request.session, endpoints=endpoints, created=created)
        return HttpResponseRedirect(reverse("admin:webhooks_webhookendpoint_secret", args=[token]), status=303)

    def secret_view(self, request, token):
        """The one page that shows secrets, once per creation or rotation: the ticket is
        spent by showing it, so a reload, the back button or a copied link show nothing."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        shown = secret_ticket_redeem(session=request.session, token=token)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Signing secret already shown",
            "endpoints": [],
        }
        if shown is None:
            return TemplateResponse(request, "admin/webhooks/webhookendpoint/secret.html", context, status=410)
        context.update(
            title=self._secret_page_title(shown),
            created=shown.created,
            endpoints=[
                {"endpoint": endpoint, "change_url": self._change_url(endpoint), "number": number}
                for number, endpoint in enumerate(shown.endpoints)
            ],
        )
        # admin_view() marks it never_cache: no copy of the secret in a browser cache.
        return TemplateResponse(request, "admin/webhooks/webhookendpoint/secret.html", context)

    @staticmethod
    def _secret_page_title(shown) -> str:
        if not shown.created:
            return "New signing secret: copy it"
        if not shown.endpoints[0].secret:  # ed25519 only: nothing secret to show, the public key
            return "Endpoint created: copy its public key"
        return "Endpoint created: copy its signing secret"

    def _rotate_confirmation(self, request, endpoints: list[WebhookEndpoint], *, is_action=False, errors=None):
        """What a rotation does to each signature header, before it is done: from the
        endpoint's page (one endpoint, a secret may be typed) or the list action."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Rotate the signing secret?" if len(endpoints) == 1 else "Rotate these signing secrets?",
            "endpoints": endpoints,
            "action": request.path,
            "is_action": is_action,
            "overlap_hours": f"{settings.WEBHOOK_SECRET_ROTATION_OVERLAP / 3600:g}",
            "errors": errors or [],
            "typed_secret": request.POST.get("secret", "") if errors else "",
        }
        return TemplateResponse(request, "admin/webhooks/webhookendpoint/rotate_confirm.html", context)

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

    def rotate_view(self, request, object_id):
        """GET: what rotating does, and a button (with an optional secret to choose); POST:
        rotate, then redirect to the secret, shown once."""
        endpoint = self._endpoint_to_change(request, object_id)
        if request.method != "POST":
            return self._rotate_confirmation(request, [endpoint])
        try:
            endpoint = endpoint_rotate_secret(endpoint=endpoint, secret=request.POST.get("secret", "").strip() or None)
        except ValidationError as error:
            return self._rotate_confirmation(request, [endpoint], errors=error.messages)
        except ConflictError as error:  # signing ed25519: there is no shared secret
            self.message_user(request, error.message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(endpoint))
        self.log_change(request, endpoint, "Rotated the signing secret.")
        return self._redirect_to_secret(request, [endpoint], created=False)

    def rotate_key_view(self, request, object_id):
        endpoint = self._endpoint_to_change(request, object_id)
        try:
            endpoint = endpoint_rotate_signing_key(endpoint=endpoint)
        except ConflictError as error:
            self.message_user(request, error.message, messages.ERROR)
        else:
            self.log_change(request, endpoint, f"Rotated the key pair; new public key {endpoint.public_key}.")
            self.message_user(request, self._key_rotated_message(endpoint), messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(endpoint))

    @staticmethod
    def _key_rotated_message(endpoint: WebhookEndpoint) -> str:
        # Public keys only: a message may sit in a cookie, which is why secrets never go in one.
        return (
            f"{endpoint.name}: new public key {endpoint.public_key}. The previous one keeps signing v1a until "
            f"{local_time(endpoint.previous_key_expires_at)}: give receivers the new key before then."
        )

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

    @admin.action(description="Rotate secret (asks first; the old one keeps signing webhook-signature a while)")
    def rotate_secret(self, request, queryset):
        endpoints = [endpoint for endpoint in queryset if endpoint.signing != Signing.ED25519]
        skipped = [endpoint.name for endpoint in queryset if endpoint.signing == Signing.ED25519]
        if request.POST.get("confirmed") != "yes" and endpoints:  # like Django's delete action: a page first
            return self._rotate_confirmation(request, endpoints, is_action=True)
        if skipped:
            self.message_user(
                request, f"Not rotated (signing ed25519: no shared secret): {', '.join(skipped)}.", messages.WARNING
            )
        if not endpoints:
            return None
        rotated = [endpoint_rotate_secret(endpoint=endpoint) for endpoint in endpoints]
        for endpoint in rotated:
            self.log_change(request, endpoint, "Rotated the signing secret.")
        return self._redirect_to_secret(request, rotated, created=False)

    @admin.action(description="Rotate key pair (ed25519: the old one keeps signing for the overlap window)")
    def rotate_key(self, request, queryset):
        for endpoint in queryset:
            if endpoint.signing == Signing.HMAC:
                self.message_user(request, f"{endpoint.name}: signing hmac, no key pair to rotate.", messages.WARNING)
                continue
            endpoint = endpoint_rotate_signing_key(endpoint=endpoint)
            self.log_change(request, endpoint, f"Rotated the key pair; new public key {endpoint.public_key}.")
            self.message_user(request, self._key_rotated_message(endpoint), messages.SUCCESS)


def send_test_outcome_line(attempt: DeliveryAttempt) -> str:
    result = f"HTTP {attempt.response_status}" if attempt.response_status is not None else "no answer"
    if attempt.outcome != DeliveryAttempt.Outcome.SUCCEEDED:
        result = f"failed: {attempt.delivery.last_error or result}"
    excerpt = attempt.response_body_excerpt[:200]
    return f"{result} in {attempt.duration_ms} ms" + (f" — {excerpt}" if excerpt else "")
