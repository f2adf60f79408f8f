"""Telling people: an email when an endpoint is disabled (410 Gone, or failing too long)."""

import logging

from django.conf import settings
from django.core.mail import mail_admins, send_mail

from webhooks.models import WebhookEndpoint

logger = logging.getLogger(__name__)


def endpoint_disabled(*, endpoint_id: str) -> None:
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    subject = f"Webhook endpoint disabled: {endpoint.name}"
    message = (
        f"The webhook endpoint '{endpoint.name}' ({endpoint.id}, {endpoint.url}) was disabled "
        f"at {endpoint.disabled_at:%Y-%m-%d %H:%M} UTC.\n\nReason: {endpoint.disabled_reason}\n\n"
        "Nothing more is sent to it until it is enabled again: in the admin (action 'Enable') "
        f'or with PATCH /api/v1/webhooks/{endpoint.id} {{"is_active": true}}. Deliveries that '
        "failed meanwhile can be sent again with a replay (POST .../replay).\n"
    )
    try:
        if settings.WEBHOOK_NOTIFY_EMAILS:
            send_mail(subject, message, None, settings.WEBHOOK_NOTIFY_EMAILS)
        else:
            mail_admins(subject, message)
    except Exception:  # noqa: BLE001 - a mail server problem must not fail the delivery
        logger.exception("Could not send the endpoint-disabled email for %s", endpoint_id)
