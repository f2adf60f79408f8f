"""The scenarios of the benchmark: 1-7 here, 8-12 (the stack as the Procfile starts it)
in scenarios_stack.py, 13 (what per-incident ordering costs) in scenarios_ordering.py.
Each one starts its own Celery processes on a clean database and Redis, warms them up,
measures, and returns its table row(s).
Deliveries not received by a scenario's deadline count as infinitely late in the
percentiles."""

import math
import time

from bench import data
from bench.harness import sample_payload
from bench.meters import rss_mb
from bench.profile import Profiler
from bench.results import Row, ms, percentile, ratio, rows_label, yes_no
from bench.scenarios_ordering import OrderingScenario
from bench.scenarios_stack import StackScenarios
from bench.stack import (
    log,
)


class Bench(StackScenarios, OrderingScenario):
    def s1_baseline(self) -> Row:
        row = Row(1, "Baseline: plain `requests.Session` threads, no Django/Celery/DB")
        sizes = self.sizes
        self.receiver.hold([])
        self.receiver.reset()
        meter = self.meter()
        burst = self.run_baseline("burst", paths=2, prefix="/s1/burst/", count=sizes.baseline_burst)
        paced_rate = 200 * 5
        paced = self.run_baseline(
            "paced", paths=5, prefix="/s1/paced/", rate=paced_rate, seconds=sizes.baseline_paced_seconds
        )
        fan = self.run_baseline("burst", paths=1000, prefix="/s1/fan/", count=1000)
        meter.stop()
        errors = burst["errors"] + paced["errors"] + fan["errors"]
        threads = self.options.baseline_threads or self.options.concurrency
        self.baseline = {
            "rate": burst["count"] / burst["seconds"],
            "p50": percentile(paced["latencies"], 50),
            "p95": percentile(paced["latencies"], 95),
            "p99": percentile(paced["latencies"], 99),
            "fan": fan["seconds"],
        }
        b = self.baseline
        row.figure = (
            f"**{b['rate']:,.0f} POSTs/s**; at {paced_rate:,}/s: p50/p95/p99 {ms(b['p50'])} / {ms(b['p95'])} / "
            f"{ms(b['p99'])}; 1,000 paths: {ms(b['fan'])}"
        )
        row.target = "the limit"
        row.ratio = "1.00×"
        row.receiver_cpu = f"{meter.share('receiver'):.0%}"
        row.notes = (
            f"{burst['count']:,} POSTs to 2 paths; {paced['count']:,} paced over 5 paths; "
            f"paced run achieved {paced['count'] / paced['seconds']:,.0f}/s; "
            f"{self.options.workers} process(es) × {threads} threads; "
            f"errors {errors}; machine CPU busy {meter.machine_busy:.0%}"
        )
        return row

    # --- 2. Throughput ----------------------------------------------------------------

    def s2_throughput(self) -> Row:
        events, backlog_events = self.sizes.throughput_events, self.sizes.backlog_events
        row = Row(2, f"Throughput: {events:,} events × 2 endpoints")
        with self.stack("s2") as stack:
            paths = ["/s2/0", "/s2/1"]
            data.endpoints_create(self.receiver.base, paths)
            # (a) As the issue defines it: events as fast as the emitters go, workers running.
            profiler = Profiler(stack.worker_pids(), self.tmp, "s2a") if self.options.profile else None
            try:
                log(f"s2: emitting {events:,} events")
                emitted = self.emit("burst", count=events, deadline=300)
                commits = data.event_commit_times(emitted["since"])
                receipts = self.collect(commits, paths, deadline=240, label="s2")
                meter = self.stop_meter(emitted)
            finally:
                if profiler:
                    self.profile_report = "#### (a) events and deliveries together\n\n" + profiler.stop()
            # (b) The engine alone: a backlog emitted with the workers paused, then drained.
            self.receiver.reset()
            log(f"s2: workers paused; emitting a backlog of {backlog_events:,} events")
            stack.pause()
            try:
                backlog = self.emit("burst", count=backlog_events, deadline=300)
                backlog["meter"].stop()
            finally:
                stack.resume()
            resumed = time.time()
            profiler = Profiler(stack.worker_pids(), self.tmp, "s2b") if self.options.profile else None
            drain_meter = self.meter(stack)
            try:
                drained = self.collect(data.event_commit_times(backlog["since"]), paths, deadline=180, label="s2 drain")
            finally:
                drain_meter.stop()
                if profiler:
                    self.profile_report += "\n\n#### (b) draining the backlog\n\n" + profiler.stop()
        if receipts.received:
            seconds = receipts.last_receipt - receipts.first_commit
            rate = receipts.received / seconds
        else:
            seconds, rate = math.nan, 0.0
        drain_seconds = drained.last_receipt - resumed if drained.received else math.nan
        drain_rate = drained.received / drain_seconds if drained.received else 0.0
        baseline = self.baseline.get("rate", math.nan)
        row.figure = f"**{rate:,.0f} deliveries/s**; backlog drain {drain_rate:,.0f}/s ({ratio(drain_rate, baseline)})"
        row.target = "≥ 1,000/s and ≥ 50 % of baseline"
        row.met = yes_no(receipts.received == receipts.expected and rate >= 1000 and rate >= 0.5 * baseline)
        row.ratio = ratio(rate, baseline)
        row.receiver_cpu = f"{meter.share('receiver'):.0%}"
        row.notes = (
            f"{receipts.received:,}/{receipts.expected:,} in {seconds:.1f} s (first commit → last receipt); "
            f"emitted in {emitted['seconds']:.1f} s ({emitted['rate']:,.0f} events/s); "
            f"duplicates {receipts.duplicates}; {self.cpu_note(meter)}. Drain: {drained.received:,}/"
            f"{drained.expected:,} queued with the workers paused, received {drain_seconds:.1f} s after resuming; "
            f"{self.cpu_note(drain_meter)}"
        )
        return row

    # --- 3. Latency -------------------------------------------------------------------

    def s3_latency(self) -> Row:
        seconds = self.sizes.latency_seconds
        row = Row(3, f"Latency: {self.options.rate} events/s for {seconds:g} s × 5 endpoints")
        with self.stack("s3"):
            receipts, emitted, meter = self.paced_run("s3", [f"/s3/{n}" for n in range(5)])
        latencies = receipts.latencies()
        p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
        self.latency_p99 = p99
        row.figure = f"p50/p95/p99 **{ms(p50)} / {ms(p95)} / {ms(p99)}**"
        row.target = "p99 ≤ 100 ms"
        row.met = yes_no(p99 <= 0.1)
        row.ratio = f"p99 {ratio(p99, self.baseline.get('p99', math.nan))}"
        row.receiver_cpu = f"{meter.share('receiver'):.0%}"
        row.notes = (
            f"{receipts.received:,}/{receipts.expected:,} received; {self.paced_note(emitted)}; "
            f"duplicates {receipts.duplicates}; "
            f"{self.cpu_note(meter)}"
        )
        return row

    # --- 4. Fan-out -------------------------------------------------------------------

    def s4_fanout(self) -> Row:
        row = Row(4, "Fan-out: 1 event → 1,000 endpoints")
        with self.stack("s4") as stack:
            paths = [f"/s4/{n}" for n in range(1000)]
            data.endpoints_create(self.receiver.base, paths)
            meter = self.meter(stack)
            since = time.time()
            data.emit_burst(1, threads=1, deadline=60)
            commits = data.event_commit_times(since)
            receipts = self.collect(commits, paths, deadline=90, label="s4")
            meter.stop()
        complete = receipts.received == receipts.expected
        seconds = (receipts.last_receipt - receipts.first_commit) if complete else math.inf
        first = min(receipts.first.values(), default=math.nan) - receipts.first_commit
        row.figure = f"**{ms(seconds)}** to the last receipt"
        row.target = "≤ 3 s"
        row.met = yes_no(seconds <= 3)
        row.ratio = ratio(seconds, self.baseline.get("fan", math.nan))
        row.receiver_cpu = f"{meter.share('receiver'):.0%}"
        row.notes = (
            f"{receipts.received:,}/1,000 received; first receipt after {ms(first)}; "
            f"duplicates {receipts.duplicates}; {self.cpu_note(meter)}"
        )
        return row

    # --- 5. Isolation -----------------------------------------------------------------

    def s5_isolation(self) -> Row:
        read_timeout = 2
        row = Row(5, f"Isolation: as 3, 1 of 5 endpoints (20 %) never answers (read timeout {read_timeout} s)")
        env = {"WEBHOOK_READ_TIMEOUT": str(read_timeout)}
        with self.stack("s5", env):
            paths = [f"/s5/ok/{n}" for n in range(4)] + ["/s5/dead/0"]
            receipts, emitted, meter = self.paced_run("s5", paths, hold=["/s5/dead/"])
        p99 = percentile(receipts.latencies(), 99)
        reference = self.latency_p99
        row.figure = f"healthy p99 **{ms(p99)}**" + (f" = {ratio(p99, reference)} scenario 3" if reference else "")
        row.target = "≤ 2× scenario 3"
        row.met = yes_no(p99 <= 2 * reference) if reference is not None else "—"
        if reference is not None and reference > 0.1:
            row.met += " (relative: scenario 3 missed its own target)"
        row.ratio = f"p99 {ratio(p99, self.baseline.get('p99', math.nan))}"
        row.receiver_cpu = f"{meter.share('receiver'):.0%}"
        row.notes = (
            f"{receipts.received:,}/{receipts.expected:,} healthy received; {receipts.held:,} requests held by "
            f"the dead endpoint; {self.paced_note(emitted)}; {self.cpu_note(meter)}"
        )
        return row

    # --- 6. Growth --------------------------------------------------------------------

    def s6_growth(self) -> Row:
        sizes = self.sizes
        small, large, batch = sizes.growth_small, sizes.growth_large, sizes.growth_batch
        row = Row(6, f"Growth: {batch:,} deliveries with {rows_label(small)} vs {rows_label(large)} rows already there")
        results = {}
        with self.stack("s6"):
            paths = ["/s6/0", "/s6/1"]
            endpoints = data.endpoints_create(self.receiver.base, paths)
            payload = sample_payload()
            filled = 0
            for label, rows in (("small", small), ("large", large)):
                log(f"s6: pre-filling to {rows:,} deliveries + attempts")
                started = time.monotonic()
                data.prefill(endpoints=endpoints, start=filled, stop=rows, total=large, payload=payload)
                data.settle_after_bulk_load()
                log(f"s6: pre-fill took {time.monotonic() - started:.1f} s; {data.table_rows()}")
                filled = rows
                rounds = []
                # Round 0 is not counted: it pays for cold caches after the bulk load and,
                # in the first state, for worker threads that have not run a task yet.
                for n in range(sizes.growth_rounds + 1):
                    self.receiver.reset()
                    emitted = self.emit("burst", count=batch // 2, deadline=120)
                    receipts = self.collect(
                        data.event_commit_times(emitted["since"]), paths, deadline=120, label=f"s6 {label} round {n}"
                    )
                    meter = self.stop_meter(emitted)
                    if receipts.received < receipts.expected:
                        raise RuntimeError(f"s6: {receipts.received}/{receipts.expected} received in 120 s")
                    cpu = meter.used["workers"] + meter.used["db"] + meter.used["beat"]
                    wall = receipts.last_receipt - receipts.first_commit
                    if n:
                        rounds.append(
                            {
                                "cpu": cpu / batch,
                                "wall": wall / batch,
                                "recv": meter.share("receiver"),
                                "workers": meter.used["workers"] / batch,
                                "db": meter.used["db"] / batch,
                                "busy": meter.machine_busy,
                            }
                        )
                best = min(rounds, key=lambda r: r["cpu"])
                results[label] = {**best, "wall": min(r["wall"] for r in rounds)}
        s, b = results["small"], results["large"]
        growth = b["cpu"] / s["cpu"]
        row.figure = (
            f"CPU/delivery {s['cpu'] * 1000:.2f} → {b['cpu'] * 1000:.2f} ms: **{growth:.2f}×**; "
            f"wall/delivery {s['wall'] * 1000:.2f} → {b['wall'] * 1000:.2f} ms ({b['wall'] / s['wall']:.2f}×)"
        )
        row.target = "within ±15 %"
        row.met = yes_no(0.85 <= growth <= 1.15)
        baseline_rate = self.baseline.get("rate", math.nan)
        row.ratio = f"{ratio(b['wall'], 1 / baseline_rate)} (wall/delivery at {rows_label(large)})"
        row.receiver_cpu = f"{b['recv']:.0%}"
        row.notes = (
            f"CPU = workers + beat + PostgreSQL backends of the bench DB (workers {s['workers'] * 1000:.2f} → "
            f"{b['workers'] * 1000:.2f} ms, PostgreSQL {s['db'] * 1000:.2f} → {b['db'] * 1000:.2f} ms); machine CPU "
            f"busy {s['busy']:.0%} / {b['busy']:.0%}; best of {sizes.growth_rounds} rounds per size after an "
            "uncounted one; pre-filled rows are finished deliveries from the last 29 days, then VACUUM ANALYZE "
            "and CHECKPOINT"
        )
        return row

    # --- 7. Memory --------------------------------------------------------------------

    def s7_memory(self) -> Row:
        sizes = self.sizes
        total = sizes.memory_deliveries
        fanout = 10
        row = Row(7, f"Memory: worker RSS before/after {rows_label(total)} deliveries")
        with self.stack("s7") as stack:
            paths = [f"/s7/{n}" for n in range(fanout)]
            data.endpoints_create(self.receiver.base, paths)
            # Warm-up on the scenario's own endpoints, then the "before" reading.
            self.closed_loop(events=200, fanout=fanout, deadline=120, label="s7 warm-up")
            time.sleep(2)
            before = {worker.name: rss_mb(worker.pid) for worker in stack.workers}
            self.receiver.reset()
            meter = self.meter(stack)
            peak = dict(before)

            def sample() -> None:
                for worker in stack.workers:
                    peak[worker.name] = max(peak[worker.name], rss_mb(worker.pid))

            done = self.closed_loop(
                events=total // fanout, fanout=fanout, deadline=sizes.memory_deadline, label="s7", on_poll=sample
            )
            meter.stop()
            time.sleep(2)
            after = {worker.name: rss_mb(worker.pid) for worker in stack.workers}
        growth = max((after[name] - before[name]) / before[name] for name in before)
        row.figure = (
            f"**{' / '.join(f'{before[n]:.0f} → {after[n]:.0f} MiB' for n in before)}** "
            f"({growth:+.1%}, peak {max(peak.values()):.0f} MiB)"
        )
        row.target = "growth ≤ 10 %"
        row.met = yes_no(done >= total and growth <= 0.10)
        row.receiver_cpu = f"{meter.share('receiver'):.0%}"
        short = "" if done >= total else f" (deadline {sizes.memory_deadline:.0f} s reached: not the full {total:,})"
        row.notes = (
            f"{done:,} deliveries{short} at {done / meter.wall:,.0f}/s, 1 event → {fanout} endpoints, "
            f"at most 2,000 outstanding; {self.cpu_note(meter)}"
        )
        if self.options.quick:
            row.notes += "; --quick: fewer than the issue's 100k"
        return row


SCENARIOS = {
    1: Bench.s1_baseline,
    2: Bench.s2_throughput,
    3: Bench.s3_latency,
    4: Bench.s4_fanout,
    5: Bench.s5_isolation,
    6: Bench.s6_growth,
    7: Bench.s7_memory,
    8: Bench.s8_api,
    9: Bench.s9_emit,
    10: Bench.s10_fanout,
    11: Bench.s11_latency_api,
    12: Bench.s12_drain,
    13: Bench.s13_ordering,
}

NAMES = {
    1: "Baseline",
    2: "Throughput",
    3: "Latency",
    4: "Fan-out",
    5: "Isolation",
    6: "Growth",
    7: "Memory",
    8: "API under load",
    9: "Emit CPU",
    10: "Fan-out outside the request",
    11: "Latency through the API",
    12: "Drain and scale out",
    13: "Ordering per incident",
}
