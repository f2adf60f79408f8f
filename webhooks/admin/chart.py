"""Small server-rendered SVG charts for the admin: no JavaScript, no CDN, works offline."""

from django.utils.html import escape

from webhooks.selectors import HourCounts

# (field of HourCounts, label, colour), bottom of the stack first.
SERIES = [("succeeded", "succeeded", "#2e7d32"), ("failed", "failed", "#c62828"), ("pending", "pending", "#9e9e9e")]
WIDTH, HEIGHT = 720, 170
LEFT, RIGHT, TOP, BOTTOM = 36, 8, 24, 22


def deliveries_per_hour_svg(hours: list[HourCounts]) -> str:
    """Stacked bars, one per hour (oldest on the left), of deliveries by outcome, with a
    tooltip per bar, the hours on the x axis every 6 bars and the tallest count on the y axis."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    tallest = max((sum(getattr(hour, name) for name, _, _ in SERIES) for hour in hours), default=0)
    scale = plot_height / tallest if tallest else 0
    slot = plot_width / max(len(hours), 1)
    bar = max(slot - 3, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="deliveries-chart" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="Deliveries per hour by outcome">',
        f'<line x1="{LEFT}" y1="{TOP + plot_height}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_height}" stroke="#888"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 4}" text-anchor="end" font-size="11" fill="#555">{tallest}</text>',
        f'<text x="{LEFT - 4}" y="{TOP + plot_height}" text-anchor="end" font-size="11" fill="#555">0</text>',
    ]
    for index, hour in enumerate(hours):
        x = LEFT + index * slot
        y = TOP + plot_height
        counts = ", ".join(f"{getattr(hour, name)} {label}" for name, label, _ in SERIES)
        parts.append(f"<g><title>{hour.hour:%H}:00 UTC: {escape(counts)}</title>")
        for name, _, colour in SERIES:
            height = getattr(hour, name) * scale
            if height:
                y -= height
                parts.append(
                    f'<rect class="bar-{name}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" '
                    f'fill="{colour}"/>'
                )
        # An invisible full-height target, so the tooltip shows for empty hours too.
        parts.append(f'<rect x="{x:.1f}" y="{TOP}" width="{bar:.1f}" height="{plot_height}" fill="transparent"/></g>')
        if index % 6 == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11" fill="#555">'
                f"{hour.hour:%H}:00</text>"
            )
    legend_x = LEFT
    for _, label, colour in SERIES:
        parts.append(f'<rect x="{legend_x}" y="6" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="15" font-size="11" fill="#333">{label}</text>')
        legend_x += 90
    if not tallest:
        parts.append(
            f'<text x="{LEFT + plot_width / 2:.1f}" y="{TOP + plot_height / 2:.1f}" text-anchor="middle" '
            'font-size="12" fill="#777">No deliveries in the last 24 hours</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
