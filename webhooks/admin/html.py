"""Small HTML pieces the webhooks admin pages share: status badges, times (with seconds,
the zone and "in 4 min"), durations, preformatted text and header tables."""

from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join

from webhooks.models import Delivery


class AdminMedia:
    css = {"all": ["opsknight/admin.css"]}


def badge(status: str | None, text: str | None = None) -> str:
    """A coloured label for a delivery or attempt status."""
    if not status:
        return "—"
    return format_html('<span class="ok-badge ok-badge-{}">{}</span>', status, text or status)


def delivery_state(delivery: Delivery) -> str:
    """`retrying` for a pending delivery that already failed an attempt, else its status."""
    if delivery.status == Delivery.Status.PENDING and delivery.attempt_count > 0:
        return "retrying"
    return delivery.status


def delivery_badge(delivery: Delivery) -> str:
    return badge(delivery_state(delivery))


def local_time(moment: datetime | None) -> str:
    """`2026-11-29 21:33:05 UTC`: seconds, so events a few seconds apart read apart, and the
    zone, so nobody has to guess it (the same as the admin's DATETIME_FORMAT)."""
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}" if moment else "—"


def two_line_time(moment: datetime | None) -> str:
    """The date over the time and zone: a narrow list column."""
    if not moment:
        return "—"
    local = timezone.localtime(moment)
    return format_html('<span class="ok-time">{}<br>{}</span>', f"{local:%Y-%m-%d}", f"{local:%H:%M:%S %Z}")


def relative(moment: datetime, now: datetime | None = None) -> str:
    """`in 4 min`, `35 s ago`, `now`: how far a time is from now, to the unit that matters."""
    seconds = (moment - (now or timezone.now())).total_seconds()
    size = int(abs(seconds))  # whole units, rounded down: 4 min 30 s is "in 4 min"
    if size < 1:
        return "now"
    if size < 60:
        amount = f"{size} s"
    elif size < 3600:
        amount = f"{size // 60} min"
    elif size < 86400:
        amount = f"{size // 3600} h {size % 3600 // 60} min"
    else:
        amount = f"{size // 86400} d {size % 86400 // 3600} h"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def next_attempt_text(moment: datetime, now: datetime | None = None) -> str:
    """`next in 4 min` for a retry to come; `due 20 s ago` for one waiting for a worker."""
    when = relative(moment, now)
    if when == "now":
        return "due now"
    return f"next {when}" if when.startswith("in ") else f"due {when}"


def time_and_relative(moment: datetime | None, now: datetime | None = None) -> str:
    """`2026-11-29 21:37:05 UTC (in 4 min)`."""
    return f"{local_time(moment)} ({relative(moment, now)})" if moment else "—"


def milliseconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def preformatted(text: str) -> str:
    return format_html('<pre class="ok-pre">{}</pre>', text)


def headers_table(headers: dict) -> str:
    if not headers:
        return "—"
    rows = format_html_join("", "<tr><th>{}</th><td><code>{}</code></td></tr>", sorted(headers.items()))
    return format_html('<table class="ok-headers">{}</table>', rows)
