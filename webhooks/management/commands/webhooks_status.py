"""`manage.py webhooks_status`: each endpoint's state and health, and the queue's, as a table."""

from datetime import datetime

from django.utils import timezone

from opsknight.management.pipes import PipeFriendlyCommand
from webhooks import selectors
from webhooks.formats import opsknight as opsknight_format


def age(seconds: float) -> str:
    """90 → '1m 30s', 7200 → '2h 0m': short enough for a table cell."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


class Command(PipeFriendlyCommand):
    help = "A summary of webhook endpoints (state, last delivery, 24 h success rate, pending, failed) and queue health."

    def handle(self, *args, **options):
        now = timezone.now()
        endpoints = selectors.endpoint_health_list(now=now)
        queue = selectors.queue_health(now=now)
        write = self.stdout.write

        write(f"Webhook endpoints ({len(endpoints)}), at {opsknight_format.iso_z(now)}")
        rows = [
            [
                row.endpoint.name,
                row.endpoint.pk,
                self._state(row.endpoint, now),
                self._last_delivery(row, now),
                "-" if row.success_rate_24h is None else f"{row.success_rate_24h:.0%} of {row.finished_24h}",
                str(row.pending),
                str(row.failed),
            ]
            for row in endpoints
        ]
        header = ["NAME", "ID", "STATE", "LAST DELIVERY", "SUCCESS 24H", "PENDING", "FAILED"]
        for line in table(header, rows) if rows else ["(none)"]:
            write(line)

        write("")
        write("Queue")
        oldest = f", the oldest waiting for a worker for {age(queue.lag_seconds(now))}" if queue.oldest_due_at else ""
        for label, value in [
            ("Pending", f"{queue.pending}, {queue.due} due now{oldest}"),
            ("Failed (in the log)", str(queue.failed)),
            ("Failing endpoints", str(queue.endpoints_failing)),
            ("Disabled endpoints", str(queue.endpoints_disabled)),
        ]:
            write(f"  {label + ':':<21}{value}")

    def _state(self, endpoint, now: datetime) -> str:
        if not endpoint.is_active:
            reason = endpoint.disabled_reason or "no reason given"
            return f"disabled: {reason if len(reason) <= 60 else reason[:59] + '…'}"
        if endpoint.failing_since:
            return f"active, failing for {age((now - endpoint.failing_since).total_seconds())}"
        return "active"

    def _last_delivery(self, row, now: datetime) -> str:
        if row.last_at is None:
            return "-"
        return f"{row.last_status}, {age((now - row.last_at).total_seconds())} ago"
