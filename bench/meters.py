"""/proc readers for the benchmark: CPU seconds and memory of a process tree, the
machine's busy share, and a CpuMeter over a run; database backends of the bench DB."""

import os
import threading
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cores() -> int:
    return len(os.sched_getaffinity(0))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces.
    return data[data.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of the process (all its threads), in seconds."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (a prefork pool's children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_mb(pid: int) -> float:
    """VmRSS of the process and its descendants, in MiB."""
    total_kb = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
                        break
        except OSError:
            pass
    return total_kb / 1024


def database_backends(database: str) -> list[int]:
    """PostgreSQL backends serving `database` (the process title names the database)."""
    pids = []
    needle = f" {database} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read(200)
        except OSError:
            continue
        if cmdline.startswith(b"postgres:") and needle in cmdline:
            pids.append(int(entry))
    return pids


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user
    return total - idle, total


class CpuMeter:
    """CPU seconds used by groups of processes over a window. Samples every second in
    a thread, so processes that end (a closed database connection) still count up to
    their last sample, and processes that start in the window count from zero."""

    def __init__(self, groups: dict[str, "callable"]):
        self.groups = groups
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self, initial: bool) -> None:
        for name, pids_of in self.groups.items():
            for pid in pids_of():
                value = cpu_seconds(pid)
                if value is None:
                    continue
                key = (name, pid)
                if key not in self.first:
                    self.first[key] = value if initial else 0.0
                self.last[key] = value

    def start(self) -> "CpuMeter":
        self.started = time.monotonic()
        self.machine_start = machine_jiffies()
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True, name="cpu-meter")
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self._sample(initial=False)
            except Exception:  # noqa: BLE001 - a vanished /proc entry must not stop the meter
                pass

    def stop(self) -> dict[str, float]:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._sample(initial=False)
        self.wall = time.monotonic() - self.started
        busy, total = (end - start for end, start in zip(machine_jiffies(), self.machine_start, strict=True))
        self.machine_busy = busy / total if total else 0.0
        used: dict[str, float] = {name: 0.0 for name in self.groups}
        for key, value in self.last.items():
            used[key[0]] += max(0.0, value - self.first.get(key, 0.0))
        self.used = used
        return used

    def add(self, name: str, seconds: float) -> None:
        """CPU measured elsewhere (a process that reported its own)."""
        self.used[name] = self.used.get(name, 0.0) + seconds

    def share(self, name: str) -> float:
        """CPU seconds / wall seconds / cores."""
        return self.used[name] / self.wall / cores() if self.wall else 0.0


# --- The receiver ------------------------------------------------------------------
