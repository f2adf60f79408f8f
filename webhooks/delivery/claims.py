"""Claims: the lease a worker takes on a delivery before sending it. "Claimable" (pending,
due, not leased) is `DeliveryQuerySet.claimable` in the ORM and CLAIMABLE_SQL here, in
the two one-statement claims (`UPDATE … RETURNING`)."""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from webhooks.models import Delivery

_TABLE = Delivery._meta.db_table
# An earlier pending delivery of the same incident to the same ordered endpoint, for
# the row named {outer}: what an ordered delivery waits behind.
EARLIER_PENDING_SQL = (
    f"SELECT 1 FROM {_TABLE} AS earlier "
    "WHERE earlier.endpoint_id = {outer}.endpoint_id AND earlier.incident_id = {outer}.incident_id "
    "AND earlier.ordered AND earlier.status = 'pending' AND earlier.origin = 'event' "
    "AND earlier.sequence < {outer}.sequence"
)
# The same condition as DeliveryQuerySet.claimable, for the raw statements below (whose
# outer table is the deliveries table itself): due, free, and for an ordered endpoint not
# behind an earlier pending delivery of the same incident.
CLAIMABLE_SQL = (
    "status = %s AND next_attempt_at <= %s AND (locked_until IS NULL OR locked_until <= %s) "
    f"AND (NOT {_TABLE}.ordered OR NOT EXISTS ({EARLIER_PENDING_SQL.format(outer=_TABLE)}))"
)
# The top-up looks at most this many times `limit` of the oldest due, free deliveries.
# A waiting ordered delivery is due (it is only behind another), so testing every due
# one for an earlier pending delivery meant a subquery per waiting one on each top-up:
# 20 ms a call with 4,000 waiting (bench scenario 13c), paid by the unordered endpoints'
# deliveries too. Bounded, the test costs at most a few hundred index probes; what the
# window misses still has its own wake-up (at commit, or when the delivery ahead of it
# ends: recording._wake_next_in_order) and the dispatcher.
TOP_UP_WINDOW = 4
# Time kept at the end of a lease to record the attempt: an attempt that ends later
# could be sent again by another worker while it is still being recorded.
RECORDING_MARGIN_SECONDS = 2.0


def lease_until(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)


def attempt_not_after(lease_clock: float | None = None) -> float:
    """When the attempts of a lease taken at `lease_clock` (time.monotonic(), default
    now) must be over."""
    lease_clock = time.monotonic() if lease_clock is None else lease_clock
    return lease_clock + settings.WEBHOOK_LEASE_SECONDS - RECORDING_MARGIN_SECONDS


def claim(delivery_ids: list[str], now: datetime) -> list[str]:
    """Take the lease on those of `delivery_ids` that are due and free, in one statement
    that also says which ones it took."""
    if not delivery_ids:
        return []
    table = connection.ops.quote_name(Delivery._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    placeholders = ", ".join(["%s"] * len(delivery_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET locked_until = %s, attempt_count = attempt_count + 1 "
            f"WHERE id IN ({placeholders}) AND {CLAIMABLE_SQL} RETURNING id",
            [adapt(lease_until(now)), *delivery_ids, Delivery.Status.PENDING, adapt(now), adapt(now)],
        )
        return [row[0] for row in cursor.fetchall()]


def claim_more(*, limit: int, now: datetime, skip_endpoints: list[str]) -> list[str]:
    """Take the lease on up to `limit` more due, free deliveries, oldest due first, among
    the TOP_UP_WINDOW × `limit` oldest (see there), skipping rows another worker is
    claiming (PostgreSQL's SKIP LOCKED) and endpoints this process already sends to at
    their cap. Elsewhere (SQLite): none."""
    if connection.vendor != "postgresql" or limit <= 0:
        return []
    table = connection.ops.quote_name(Delivery._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET locked_until = %s, attempt_count = attempt_count + 1 WHERE id IN ("
            f"SELECT candidate.id FROM (SELECT id, next_attempt_at, ordered, endpoint_id, incident_id, sequence "
            f"FROM {table} WHERE status = %s AND next_attempt_at <= %s "
            "AND (locked_until IS NULL OR locked_until <= %s) AND NOT (endpoint_id = ANY(%s)) "
            "ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED) AS candidate "
            f"WHERE NOT candidate.ordered OR NOT EXISTS ({EARLIER_PENDING_SQL.format(outer='candidate')}) "
            "ORDER BY candidate.next_attempt_at LIMIT %s) RETURNING id",
            [lease_until(now), Delivery.Status.PENDING, now, now, skip_endpoints, limit * TOP_UP_WINDOW, limit],
        )
        return [row[0] for row in cursor.fetchall()]
