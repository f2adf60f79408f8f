"""What a scenario returns and how figures are printed: table rows, options, sizes,
receipts matched to commits, percentiles and ratios."""

import dataclasses
import math
from dataclasses import dataclass, field


@dataclass
class Row:
    number: int | str  # "8a", "8b": a scenario that measures two things gives two rows
    name: str
    figure: str = "—"
    target: str = "—"
    met: str = "—"
    ratio: str = "—"
    receiver_cpu: str = "—"
    notes: str = ""
    seconds: float | None = 0.0  # None: the scenario's time is on its first row
    code: tuple[str, str] | None = None  # (git version, engine source hash) when the scenario started


@dataclass
class Options:
    workers: int = 1
    pool: str = "threads"
    concurrency: int = 16
    quick: bool = False
    emitters: int = 2
    baseline_threads: int | None = None
    profile: bool = False
    # Events/s in scenarios 3 and 5 (the 200; lower it to compare 5 with 3 on a
    # machine that cannot emit 200/s and deliver them too).
    rate: int = 200
    # --env NAME=VALUE: also what the Procfile scenarios keep (they drop the bench's LOG_LEVEL otherwise).
    overrides: dict[str, str] = field(default_factory=dict)


@dataclass
class Sizes:
    """Full run, or --quick (shown in the table when it differs)."""

    baseline_burst: int
    baseline_paced_seconds: float
    throughput_events: int
    backlog_events: int
    latency_seconds: float
    drain_seconds: float
    growth_small: int
    growth_large: int
    growth_batch: int
    growth_rounds: int
    memory_deliveries: int
    memory_deadline: float
    # The Procfile scenarios (8-12)
    api_creates: int  # per client count
    api_deadline: float
    emit_rounds: int
    emit_incidents: int
    fanout_endpoints: int
    fanout_samples: int
    fanout_deadline: float
    drain_events: int  # × 2 endpoints
    # Scenario 13: lifecycle events per backlog (× 2 endpoints), and the incidents they
    # are spread over in its "few busy incidents" backlog
    ordering_events: int
    ordering_busy_incidents: int

    @classmethod
    def for_run(cls, quick: bool) -> "Sizes":
        full = cls(
            baseline_burst=10_000,
            baseline_paced_seconds=10,
            throughput_events=5_000,
            backlog_events=2_500,
            latency_seconds=30,
            drain_seconds=60,
            growth_small=10_000,
            growth_large=1_000_000,
            growth_batch=2_000,
            growth_rounds=2,
            memory_deliveries=100_000,
            memory_deadline=400,
            api_creates=1_500,
            api_deadline=120,
            emit_rounds=3,
            emit_incidents=200,
            fanout_endpoints=10_000,
            fanout_samples=20,
            fanout_deadline=180,
            drain_events=5_000,
            ordering_events=2_000,
            ordering_busy_incidents=20,
        )
        if not quick:
            return full
        return dataclasses.replace(
            full,
            baseline_burst=2_000,
            baseline_paced_seconds=3,
            throughput_events=1_000,
            backlog_events=500,
            latency_seconds=6,
            drain_seconds=20,
            growth_large=100_000,
            growth_batch=1_000,
            memory_deliveries=10_000,
            memory_deadline=90,
            api_creates=300,
            api_deadline=40,
            emit_rounds=2,
            emit_incidents=50,
            fanout_endpoints=1_000,
            fanout_samples=8,
            fanout_deadline=60,
            drain_events=1_000,
            ordering_events=400,
            ordering_busy_incidents=8,
        )


@dataclass
class Receipts:
    """First receipt of each expected (event, path) pair, and what else arrived."""

    commits: dict[str, float]
    paths: list[str]
    first: dict[tuple[str, str], float] = field(default_factory=dict)
    duplicates: int = 0
    held: int = 0

    @property
    def expected(self) -> int:
        return len(self.commits) * len(self.paths)

    @property
    def received(self) -> int:
        return len(self.first)

    def latencies(self, paths: list[str] | None = None) -> list[float]:
        """Seconds from commit to receipt for every expected pair; missing ones are inf."""
        return [
            self.first.get((event_id, path), math.inf) - committed
            for event_id, committed in self.commits.items()
            for path in paths or self.paths
        ]

    @property
    def first_commit(self) -> float:
        return min(self.commits.values())

    @property
    def last_receipt(self) -> float:
        return max(self.first.values(), default=math.nan)


def percentile(values: list[float], p: float) -> float:
    """Nearest rank; inf if the rank falls on a missing value."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    if math.isinf(seconds):
        return "∞"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def ratio(value: float, reference: float) -> str:
    if not reference or math.isnan(value) or math.isnan(reference):
        return "—"
    if math.isinf(value):
        return "∞"
    return f"{value / reference:,.2f}×"


def rows_label(n: int) -> str:
    return f"{n / 1_000_000:g}M" if n >= 1_000_000 else f"{n / 1000:g}k"


def yes_no(ok: bool) -> str:
    return "yes" if ok else "**no**"
