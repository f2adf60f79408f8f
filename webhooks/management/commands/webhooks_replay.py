"""`manage.py webhooks_replay`: send an endpoint every event since a time again."""

import re
from datetime import UTC, datetime, timedelta

from django.core.management.base import CommandError
from django.utils import timezone

from opsknight.management.pipes import PipeFriendlyCommand
from webhooks import selectors
from webhooks.actions import endpoint_replay
from webhooks.formats import opsknight as opsknight_format
from webhooks.models import WebhookEndpoint

RELATIVE = re.compile(r"^(\d+)\s*([smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, *, now: datetime) -> datetime:
    """An ISO 8601 time (UTC unless it says otherwise), or an age like 30m, 2h, 7d."""
    value = value.strip()
    if match := RELATIVE.match(value.lower()):
        try:
            return now - timedelta(seconds=int(match[1]) * UNIT_SECONDS[match[2]])
        except OverflowError:
            raise CommandError(f"--since {value!r} reaches back too far.") from None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--since {value!r} is not a time: give an ISO 8601 time (2026-01-15T10:30:00Z) "
            "or an age in seconds, minutes, hours or days (90s, 30m, 2h, 7d)."
        ) from None
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)


class Command(PipeFriendlyCommand):
    help = (
        "Send an endpoint every real event since a time again, as new deliveries of the same events "
        "(same webhook-id), e.g. after an outage: webhooks_replay --endpoint whk_... --since 2h"
    )

    def add_arguments(self, parser):
        parser.add_argument("--endpoint", required=True, help="The endpoint's id (whk_...).")
        parser.add_argument(
            "--since", required=True, help="ISO 8601 time (UTC unless it has an offset), or an age: 90s, 30m, 2h, 7d."
        )

    def handle(self, *args, endpoint: str, since: str, **options):
        now = timezone.now()
        since_at = parse_since(since, now=now)
        if since_at > now:
            raise CommandError(f"--since {opsknight_format.iso_z(since_at)} is in the future: nothing to replay.")
        try:
            target = selectors.endpoint_get(endpoint_id=endpoint)
        except WebhookEndpoint.DoesNotExist:
            raise CommandError(f"No webhook endpoint with id {endpoint!r} (see webhooks_status).") from None
        count = endpoint_replay(endpoint=target, since=since_at)
        self.stdout.write(
            f"Queued {count} deliveries to {target.name} ({target.pk}): the events since "
            f"{opsknight_format.iso_z(since_at)} it subscribes to."
        )
        if not target.is_active:
            self.stdout.write(
                self.style.WARNING("The endpoint is disabled: replayed deliveries go out, new events do not.")
            )
