"""Scenario 13: what per-incident ordering costs. Scenario 12's drain (the Procfile's
worker line, one process, paused while a backlog is declared, then resumed) with both
endpoints at `ordering="none"`, then at `"per_incident"`, for three backlogs of as many
lifecycle events: one event per incident (ordering adds only its claim condition),
four per incident (trigger, acknowledge, escalate, resolve: an incident's deliveries
to an ordered endpoint now go one after the other), and a few busy incidents with many
events each (the most it can serialise). The receiver's arrival order is checked: an
ordered endpoint must never see an incident's version N after a later one."""

import math
import time
from dataclasses import dataclass

from bench import data
from bench.harness import Harness
from bench.results import Receipts, Row, ratio, yes_no
from bench.scenarios_stack import per_item
from bench.stack import log

ORDERINGS = ("none", "per_incident")


@dataclass(frozen=True)
class Backlog:
    letter: str
    incidents: int
    events_per_incident: int
    what: str

    @property
    def events(self) -> int:
        return self.incidents * self.events_per_incident


@dataclass
class Drain:
    receipts: Receipts
    seconds: float  # from resuming the worker to the last receipt
    out_of_order: int
    ordered_deliveries: int  # rows written with Delivery.ordered: all of them, or none
    meter: object

    @property
    def rate(self) -> float:
        return self.receipts.received / self.seconds if self.receipts.received else 0.0


def out_of_order(records: list[list], versions: dict[str, tuple[str, int]], paths: list[str]) -> int:
    """Arrivals at a path of an incident's event after a later version of the same
    incident had arrived there. The receiver's records are in arrival order; a repeat of
    an event at a path counts at its first arrival only."""
    wanted = set(paths)
    latest: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str]] = set()
    late = 0
    for path, event_id, _delivery_id, _received_at, held in records:
        if held or path not in wanted or event_id not in versions or (path, event_id) in seen:
            continue
        seen.add((path, event_id))
        incident_id, version = versions[event_id]
        if version < latest.get((path, incident_id), 0):
            late += 1
        else:
            latest[(path, incident_id)] = version
    return late


class OrderingScenario(Harness):
    def ordering_backlogs(self) -> list[Backlog]:
        events, busy = self.sizes.ordering_events, self.sizes.ordering_busy_incidents
        return [
            Backlog("a", events, 1, "1 event per incident"),
            Backlog("b", events // 4, 4, "4 events per incident (trigger, acknowledge, escalate, resolve)"),
            Backlog("c", busy, events // busy, f"{busy} busy incidents × {events // busy} events"),
        ]

    def ordering_drain(self, backlog: Backlog, ordering: str) -> Drain:
        """One drain of `backlog` to 2 endpoints at `ordering`, on a fresh stack."""
        from webhooks.models import Delivery

        tag = f"s13{backlog.letter}-{'ordered' if ordering == 'per_incident' else 'none'}"
        with self.stack(tag, procfile=True, workers=1) as stack:
            paths = [f"/{tag}/0", f"/{tag}/1"]
            data.endpoints_create(self.receiver.base, paths, ordering=ordering)
            log(f"{tag}: worker paused; a backlog of {backlog.incidents:,} incidents × {backlog.events_per_incident}")
            stack.pause()
            try:
                emitted = self.emit(
                    "burst", count=backlog.incidents, events_per_incident=backlog.events_per_incident, deadline=300
                )
                emitted["meter"].stop()
            finally:
                resumed = time.time()  # before: the worker may start before it is told
                stack.resume()
            meter = self.meter(stack)
            receipts = self.collect(data.event_commit_times(emitted["since"]), paths, deadline=300, label=tag)
            meter.stop()
            late = out_of_order(self.receiver.records(), data.event_versions(emitted["since"]), paths)
            ordered = Delivery.objects.filter(endpoint__url__in=[self.receiver.base + p for p in paths], ordered=True)
            ordered_deliveries = ordered.count()
        seconds = receipts.last_receipt - resumed if receipts.received else math.nan
        return Drain(receipts, seconds, late, ordered_deliveries, meter)

    def s13_ordering(self) -> list[Row]:
        log("s13: baseline loop, 1 process")
        count = self.sizes.baseline_burst
        loop = self.run_baseline("burst", paths=2, prefix="/s13/loop/", count=count, processes=1)
        loop_rate = loop["count"] / loop["seconds"]
        drains: dict[tuple[str, str], Drain] = {}
        backlogs = self.ordering_backlogs()
        for n, backlog in enumerate(backlogs):
            # Each backlog starts with the other ordering than the last: a trend in the
            # machine's other work does not favour one of them.
            for ordering in ORDERINGS if n % 2 == 0 else ORDERINGS[::-1]:
                drains[backlog.letter, ordering] = self.ordering_drain(backlog, ordering)
        threads = self.options.baseline_threads or self.options.concurrency
        rows = []
        for backlog in backlogs:
            none, ordered = drains[backlog.letter, "none"], drains[backlog.letter, "per_incident"]
            row = Row(f"13{backlog.letter}", f"Ordering: drain of {backlog.what} × 2 endpoints, ordered vs not")
            row.figure = (
                f"**per_incident {ordered.rate:,.0f} vs none {none.rate:,.0f} deliveries/s: "
                f"{ratio(ordered.rate, none.rate)}**; out of order at the ordered endpoints: "
                f"**{ordered.out_of_order}**"
            )
            complete = all(d.receipts.received == d.receipts.expected for d in (none, ordered))
            row.target = "0 out of order where ordered, every delivery received"
            row.met = yes_no(ordered.out_of_order == 0 and complete)
            row.ratio = f"{ratio(ordered.rate, loop_rate)} ordered, {ratio(none.rate, loop_rate)} none (to the loop)"
            row.receiver_cpu = f"{ordered.meter.share('receiver'):.0%}"
            row.notes = "; ".join(
                f"{name}: {d.receipts.received:,}/{d.receipts.expected:,} received {d.seconds:.1f} s after resuming, "
                f"{d.ordered_deliveries:,} written as ordered, duplicates {d.receipts.duplicates}, out of order "
                f"{d.out_of_order}, {per_item(d.meter, 'workers', d.receipts.received)} of worker CPU per delivery, "
                f"{self.cpu_note(d.meter)}"
                for name, d in (("per_incident", ordered), ("none", none))
            )
            rows.append(row)
        rows[0].notes += (
            f". Each drain on a fresh stack (1 worker process, the Procfile's line), {self.sizes.ordering_events:,} "
            "events; "
            f"loop: 1 process × {threads} threads, {count:,} POSTs at {loop_rate:,.0f}/s, errors {loop['errors']}, "
            "run first"
        )
        return rows
