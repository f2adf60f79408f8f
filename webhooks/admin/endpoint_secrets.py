"""The endpoint admin's secrets and keys: the secret shown once (a session ticket,
POST/redirect/GET), rotation after a confirmation, and key-pair rotation."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from opsknight.errors import ConflictError
from webhooks.admin.html import local_time
from webhooks.admin.secrets import secret_ticket_issue, secret_ticket_redeem
from webhooks.endpoint_signing import endpoint_rotate_signing_key
from webhooks.endpoints import endpoint_rotate_secret
from webhooks.models import Signing, WebhookEndpoint


class EndpointSecretsMixin:
    """Mixed into WebhookEndpointAdmin: its views, actions and helpers for secrets and keys."""

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
