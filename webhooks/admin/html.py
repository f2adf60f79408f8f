"""Small HTML pieces the webhooks admin pages share: status badges, times, durations,
preformatted text and header tables."""

from datetime import datetime

from django.utils import timezone
from django.utils.html import format_html, format_html_join


class AdminMedia:
    css = {"all": ["opsknight/admin.css"]}


def badge(status: str | None, text: str | None = None) -> str:
    """A coloured label for a delivery or attempt status."""
    if not status:
        return "—"
    return format_html('<span class="ok-badge ok-badge-{}">{}</span>', status, text or status)


def local_time(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if moment else "—"


def milliseconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms"


def preformatted(text: str) -> str:
    return format_html('<pre class="ok-pre">{}</pre>', text)


def headers_table(headers: dict) -> str:
    if not headers:
        return "—"
    rows = format_html_join("", "<tr><th>{}</th><td><code>{}</code></td></tr>", sorted(headers.items()))
    return format_html('<table class="ok-headers">{}</table>', rows)
