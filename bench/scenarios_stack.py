"""Scenarios 8-12: the path in front of the engine and scaling it out, on the stack as
the Procfile starts it (gunicorn with its pooled database connections, the worker
line, beat): API creates under 8 and 32 clients, emit CPU per event, a fan-out of
10,000 endpoints outside the request, latency with the events declared through the
API, and the drain with one and two worker processes."""

import math
import statistics
import threading
import time

from bench import data
from bench.api_load import ApiClient, answers_note, api_keys, latency_pair, load_figures
from bench.harness import EMITTER_LEAD, Harness
from bench.results import Row, ms, percentile, ratio, yes_no
from bench.stack import PYTHON, log

API_CLIENT_COUNTS = (8, 32)
# 100 and 200 as the issue asks; 20, well below what this machine's web tier can take,
# shows the engine's own latency when nothing queues for the CPU.
LATENCY_RATES = (100, 200, 20)
LATENCY_CLIENTS = 32  # threads sending the paced requests, over the --emitters processes
DRAIN_WORKERS = (1, 2)


class StackScenarios(Harness):
    # --- Plumbing -------------------------------------------------------------------

    def api_load(self, mode: str, stack, keys_file, *, clients: int, count=0, rate=0.0, seconds=0.0, deadline=120.0):
        """`clients` threads (over `--emitters` processes) declaring incidents through the
        API, starting together; their figures, with a CPU meter started at the start."""
        processes = max(1, min(self.options.emitters, clients))
        threads = [clients // processes + (1 if n < clients % processes else 0) for n in range(processes)]
        start_at = time.time() + EMITTER_LEAD
        common = [PYTHON, "-m", "bench.api_client", mode, "--base", stack.base, "--keys-file", str(keys_file)]
        common += ["--start-at", f"{start_at}", "--deadline", str(deadline)]
        commands, offset = [], 0
        for n, share in enumerate(threads):
            command = [*common, "--threads", str(share), "--key-offset", str(offset)]
            if mode == "closed":
                command += ["--count", str(count * share // clients + (1 if n < count * share % clients else 0))]
            else:
                command += ["--rate", str(rate / processes), "--duration", str(seconds), "--offset", str(n / rate)]
            commands.append(command)
            offset += share
        meters = []

        def start_meter() -> None:
            time.sleep(max(0.0, start_at - time.time()))
            meters.append(self.meter(stack))

        starter = threading.Thread(target=start_meter, daemon=True)
        starter.start()
        results = self.run_json(commands, env=self.env, timeout=deadline + seconds + EMITTER_LEAD + 90)
        starter.join()
        meter = meters[0]
        meter.stop()
        meter.add("bench", sum(result["cpu"] for result in results))
        return {**load_figures(results, start_at=start_at), "since": start_at, "meter": meter}

    def sessions_note(self, meter) -> str:
        """PostgreSQL backends seen serving the bench database during a meter's window."""
        backends = {pid for name, pid in meter.last if name == "db"}
        return f"{len(backends)} PostgreSQL connections to the bench database seen"

    # --- 8. API creates under load ----------------------------------------------------

    def s8_api(self) -> list[Row]:
        sizes = self.sizes
        rows = []
        with self.stack("s8", procfile=True, web=True) as stack:
            paths = ["/s8/0", "/s8/1"]
            data.endpoints_create(self.receiver.base, paths)
            keys = api_keys(count=max(API_CLIENT_COUNTS), tag="s8", folder=self.tmp)
            since = time.time()
            loads = {}
            for clients in API_CLIENT_COUNTS:
                log(f"s8: {sizes.api_creates:,} creates with {clients} clients")
                loads[clients] = self.api_load(
                    "closed", stack, keys, clients=clients, count=sizes.api_creates, deadline=sizes.api_deadline
                )
            receipts = self.collect(data.event_commit_times(since), paths, deadline=60, label="s8 deliveries")
        baseline = self.baseline.get("rate", math.nan)
        for letter, clients in zip("ab", API_CLIENT_COUNTS, strict=True):
            load = loads[clients]
            row = Row(f"8{letter}", f"API: `POST /api/v1/incidents`, {clients} concurrent clients, gunicorn (Procfile)")
            row.figure = (
                f"**{load['rate']:,.0f} creates/s**, **{load['server_errors']} × 5xx**; p50/p99 {latency_pair(load)}"
            )
            row.target = "no 5xx, every request answered"
            row.met = yes_no(load["server_errors"] == 0 and load["errors"] == 0 and load["created"] == load["sent"])
            row.ratio = f"{ratio(load['rate'], baseline)} (creates/s to the loop's POSTs/s)"
            row.receiver_cpu = f"{load['meter'].share('receiver'):.0%}"
            row.notes = (
                f"{answers_note(load)} in {load['seconds']:.1f} s; {per_item(load['meter'], 'web', load['created'])} "
                f"CPU of the web processes per create; {self.sessions_note(load['meter'])}; "
                f"{self.cpu_note(load['meter'])}"
            )
            rows.append(row)
        rows[-1].notes += (
            f". Their deliveries (2 endpoints, 1 worker running throughout): {receipts.received:,}/"
            f"{receipts.expected:,} received within 60 s of the last create"
        )
        return rows

    # --- 9. Emit CPU per event ------------------------------------------------------------

    def s9_emit(self) -> Row:
        sizes = self.sizes
        row = Row(9, "Emit: CPU per lifecycle event in-process, with the outbox (`python -m bench.emit`)")
        data.reset_state(self.redis_url)
        command = [PYTHON, "-m", "bench.emit", "--json", "--rounds", str(sizes.emit_rounds)]
        command += ["--incidents", str(sizes.emit_incidents)]
        result = self.run_json([command], env=self.env, timeout=900)[0]
        emit, baseline = result["emit"], result["baseline"]
        row.figure = f"**{emit:.2f} ms CPU/event**; {result['queries_per_event']:.1f} queries/event"
        row.target = "≤ 2.5 ms CPU/event"
        row.met = yes_no(emit <= 2.5)
        row.ratio = f"{ratio(emit, baseline)} the ORM loop ({baseline:.2f} ms CPU/event)"
        row.notes = (
            f"incident_create + acknowledge, escalate, resolve, reopen; {result['incidents']} incidents × 5 events, "
            f"best of {result['rounds']} rounds interleaved with the baseline (one single-row ORM insert + commit "
            f"per event); {result['endpoints']} endpoints; wake-ups published to Redis. `POST /api/v1/incidents` "
            f"through Django's whole stack in-process (no web server): {result['api_create']:.2f} ms CPU a create "
            f"({ratio(result['api_create'], baseline)} the ORM loop), {result['api_queries']} queries"
        )
        return row

    # --- 10. Fan-out of 10,000 endpoints outside the request -------------------------------

    def transition_latencies(self, stack, client: ApiClient, incident: dict, samples: int, *, discard: bool):
        """`samples` transitions (resolve and reopen in turn) through the API, with the
        workers paused so that no delivery work competes with the request; with
        `discard`, their events are deleted before the workers resume (they would fan out
        to every endpoint: only the last, measured one is delivered)."""
        latencies = []
        since = time.time()
        stack.pause()
        try:
            for _ in range(samples):
                action = "resolve" if incident["status"] != "resolved" else "reopen"
                incident, seconds = client.post(f"incidents/{incident['id']}/{action}")
                latencies.append(seconds)
        finally:
            if discard:
                from datetime import UTC, datetime

                from webhooks.models import Event

                moment = datetime.fromtimestamp(since, tz=UTC)
                Event.objects.filter(created_at__gte=moment, expanded_at__isnull=True).delete()
            stack.resume()
        return latencies, incident

    def s10_fanout(self) -> Row:
        sizes = self.sizes
        count, samples = sizes.fanout_endpoints, sizes.fanout_samples
        row = Row(10, f"Fan-out outside the request: a transition through the API with {count:,} endpoints vs 1")
        with self.stack("s10", procfile=True, web=True) as stack:
            client = ApiClient(stack.base, api_keys(count=1, tag="s10", folder=self.tmp))
            paths = [f"/s10/{n}" for n in range(count)]
            first = data.endpoints_create(self.receiver.base, paths[:1])
            one_since = time.time()
            incident = client.incident_create()
            log(f"s10: {samples} transitions with 1 endpoint")
            one, incident = self.transition_latencies(stack, client, incident, samples, discard=False)
            log(f"s10: {count - 1:,} more endpoints")
            data.endpoints_copy(first[0], self.receiver.base, paths[1:])
            log(f"s10: {samples} transitions with {count:,} endpoints")
            many, incident = self.transition_latencies(stack, client, incident, samples, discard=True)
            # One more, the workers running: its fan-out, to the last receipt.
            self.collect(data.event_commit_times(one_since), paths[:1], deadline=30, label="s10 one endpoint")
            self.receiver.reset()
            meter = self.meter(stack)
            since = time.time()
            action = "resolve" if incident["status"] != "resolved" else "reopen"
            _, last_call = client.post(f"incidents/{incident['id']}/{action}")
            receipts = self.collect(data.event_commit_times(since), paths, deadline=sizes.fanout_deadline, label="s10")
            meter.stop()
        median_one, median_many = statistics.median(one), statistics.median(many)
        complete = receipts.received == receipts.expected
        to_last = (receipts.last_receipt - receipts.first_commit) if complete else math.inf
        loop_seconds = count / self.baseline.get("rate", math.nan)
        row.figure = (
            f"API median **{ms(median_many)} vs {ms(median_one)}: {median_many / median_one:.2f}×**; "
            f"last receipt **{ms(to_last)}** after the commit"
        )
        row.target = "API ≤ 1.5× with one endpoint"
        row.met = yes_no(median_many <= 1.5 * median_one)
        row.ratio = f"last receipt {ratio(to_last, loop_seconds)} the loop's time for {count:,} POSTs"
        row.receiver_cpu = f"{meter.share('receiver'):.0%}"
        first = min(receipts.first.values(), default=math.nan) - receipts.first_commit
        row.notes = (
            f"resolve/reopen in turn, {samples} calls per case with the workers paused (max {ms(max(many))} vs "
            f"{ms(max(one))}); the measured last call took {ms(last_call)}; {receipts.received:,}/"
            f"{receipts.expected:,} received, first after {ms(first)}, duplicates {receipts.duplicates}; "
            f"{self.cpu_note(meter)}"
        )
        return row

    # --- 11. Latency with the events declared through the API ------------------------------

    def s11_latency_api(self) -> list[Row]:
        seconds = self.sizes.latency_seconds
        results = {}
        with self.stack("s11", procfile=True, web=True) as stack:
            paths = [f"/s11/{n}" for n in range(5)]
            data.endpoints_create(self.receiver.base, paths)
            keys = api_keys(count=LATENCY_CLIENTS, tag="s11", folder=self.tmp)
            for rate in LATENCY_RATES:
                self.receiver.reset()
                log(f"s11: {rate} creates/s through the API for {seconds:g} s")
                load = self.api_load(
                    "paced", stack, keys, clients=LATENCY_CLIENTS, rate=rate, seconds=seconds, deadline=seconds + 30
                )
                commits = data.event_commit_times(load["since"])
                receipts = self.collect(commits, paths, deadline=self.sizes.drain_seconds, label=f"s11 {rate}/s")
                results[rate] = (load, receipts, data.first_attempt_starts(commits))
        rows = []
        for letter, rate in zip("abc", LATENCY_RATES, strict=True):
            load, receipts, starts = results[rate]
            latencies = receipts.latencies()
            p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
            row = Row(f"11{letter}", f"Latency: {rate} events/s through the API for {seconds:g} s × 5 endpoints")
            row.figure = (
                f"commit → receipt p50/p95/p99 **{ms(p50)} / {ms(p95)} / {ms(p99)}**; "
                f"emitted **{load['rate']:,.0f} events/s**"
            )
            if rate == 100:
                row.target = "p50 ≤ 30 ms, p99 ≤ 150 ms"
                row.met = yes_no(p50 <= 0.03 and p99 <= 0.15)
            else:
                row.target = "how it degrades" if rate > 100 else "—"
            row.figure += f"; {latency_stages(receipts, starts)}"
            row.ratio = f"p99 {ratio(p99, self.baseline.get('p99', math.nan))}"
            row.receiver_cpu = f"{load['meter'].share('receiver'):.0%}"
            row.notes = (
                f"{receipts.received:,}/{receipts.expected:,} received, duplicates {receipts.duplicates}; API call "
                f"p50/p99 {latency_pair(load)}, {answers_note(load)}, worst send lag {load['max_lag']:.2f} s "
                f"({LATENCY_CLIENTS} client threads); {self.cpu_note(load['meter'])}"
            )
            rows.append(row)
        return rows

    # --- 12. Drain, and scaling out to two worker processes --------------------------------

    def s12_drain(self) -> list[Row]:
        sizes = self.sizes
        events = sizes.drain_events
        figures = {}
        for workers in DRAIN_WORKERS:
            log(f"s12: baseline loop, {workers} process(es)")
            count = sizes.baseline_burst * workers  # as many POSTs per process
            loop = self.run_baseline("burst", paths=2, prefix=f"/s12/loop{workers}/", count=count, processes=workers)
            with self.stack(f"s12w{workers}", procfile=True, workers=workers) as stack:
                paths = [f"/s12/w{workers}/0", f"/s12/w{workers}/1"]
                data.endpoints_create(self.receiver.base, paths)
                log(f"s12: workers paused; a backlog of {events:,} events × 2 endpoints")
                stack.pause()
                try:
                    backlog = self.emit("burst", count=events, deadline=300)
                    backlog["meter"].stop()
                finally:
                    resumed = time.time()  # before: a worker may start before the others are told
                    stack.resume()
                meter = self.meter(stack)
                drained = self.collect(
                    data.event_commit_times(backlog["since"]), paths, deadline=180, label=f"s12 {workers} worker(s)"
                )
                meter.stop()
            seconds = drained.last_receipt - resumed if drained.received else math.nan
            figures[workers] = {
                "rate": drained.received / seconds if drained.received else 0.0,
                "loop": loop["count"] / loop["seconds"],
                "receipts": drained,
                "seconds": seconds,
                "meter": meter,
                "loop_errors": loop["errors"],
                "loop_count": count,
            }
        threads = self.options.baseline_threads or self.options.concurrency
        rows = []
        for letter, workers in zip("ab", DRAIN_WORKERS, strict=True):
            f = figures[workers]
            row = Row(f"12{letter}", f"Drain: {events:,} events × 2 endpoints, {workers} worker process(es) (Procfile)")
            row.figure = f"**{f['rate']:,.0f} deliveries/s**; the loop, {workers} process(es): {f['loop']:,.0f}/s"
            row.target = "≥ 0.6× the loop" if workers == 1 else "≥ 1,000/s"
            row.met = yes_no(f["rate"] >= 0.6 * f["loop"] if workers == 1 else f["rate"] >= 1000)
            row.ratio = ratio(f["rate"], f["loop"])
            row.receiver_cpu = f"{f['meter'].share('receiver'):.0%}"
            row.notes = (
                f"{f['receipts'].received:,}/{f['receipts'].expected:,} queued with the workers paused, received "
                f"{f['seconds']:.1f} s after resuming, duplicates {f['receipts'].duplicates}; "
                f"{per_item(f['meter'], 'workers', f['receipts'].received)} of worker CPU per delivery; "
                f"loop: {workers} process(es) × {threads} threads, {f['loop_count']:,} POSTs, "
                f"errors {f['loop_errors']}, run just before; {self.cpu_note(f['meter'])}"
            )
            rows.append(row)
        one, two = figures[1], figures[2]
        row = Row("12c", "Scale out: 1 → 2 worker processes on this machine")
        row.figure = (
            f"**×{two['rate'] / one['rate']:.2f}** ({one['rate']:,.0f} → {two['rate']:,.0f} deliveries/s); "
            f"the loop ×{two['loop'] / one['loop']:.2f}"
            if one["rate"]
            else "—"
        )
        row.target = "—"
        row.ratio = f"{ratio(one['rate'], one['loop'])} → {ratio(two['rate'], two['loop'])}"
        row.notes = f"{self.cpu_cores_note()}; each row's ratio is to its own loop"
        rows.append(row)
        return rows

    def cpu_cores_note(self) -> str:
        from bench.meters import cores

        return f"{cores()} cores for the workers, PostgreSQL, Redis, the receiver and the bench together"


def latency_stages(receipts, starts: dict[tuple[str, str], float]) -> str:
    """Each receipt's latency in two: commit → the worker starts the attempt (the
    publisher thread, Redis, Celery's prefetch, the claim, a sending thread) and the
    attempt's start → receipt (connect, request, the receiver)."""
    waits, sends = [], []
    for (event_id, path), received in receipts.first.items():
        started = starts.get((event_id, path))
        if started is not None:
            waits.append(started - receipts.commits[event_id])
            sends.append(received - started)
    if not waits:
        return "no attempts found"
    pairs = [f"{ms(percentile(values, 50))} / {ms(percentile(values, 99))}" for values in (waits, sends)]
    return f"of which commit → attempt start p50/p99 {pairs[0]}, attempt start → receipt {pairs[1]}"


def per_item(meter, group: str, count: int) -> str:
    """A process group's CPU over a meter's window, per thing it did, in ms."""
    if not count or group not in meter.used:
        return "—"
    return f"{meter.used[group] / count * 1000:.1f} ms"
