"""Optional: sample the Celery workers with py-spy during the throughput scenario
(`python -m bench --profile`) and summarise where their CPU goes. py-spy is not a
project dependency: `.venv/bin/pip install py-spy` first."""

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.stack import log

_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    """`py-spy record --gil` of each worker process: only the thread holding the GIL is
    sampled, so the samples say where the worker's Python CPU goes (threads waiting on
    sockets or the database are left out)."""

    def __init__(self, pids: list[int], folder: Path, tag: str):
        self.outputs = [folder / f"{tag}-worker{n}.txt" for n in range(len(pids))]
        self.processes: list[subprocess.Popen] = []
        executable = py_spy()
        if executable is None:
            log("--profile: py-spy not found (.venv/bin/pip install py-spy); not profiling")
            return
        for pid, output in zip(pids, self.outputs, strict=True):
            command = [executable, "record", "--pid", str(pid), "--rate", "100", "--format", "raw", "--gil"]
            command += ["--nonblocking", "--output", str(output)]
            self.processes.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            )

    def stop(self) -> str:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return "\n\n".join(summarise(output) for output in self.outputs if output.exists())


def _frame(frame: str) -> str:
    frame = _LINE.sub(")", frame.strip())
    return frame.replace(str(Path(sys.prefix)) + "/lib/", "").replace(str(Path.cwd()) + "/", "")


def summarise(path: Path, top: int = 15) -> str:
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        if frames and frames[0].startswith("process "):
            frames = frames[1:]  # py-spy's process/thread header frames
        frames = [f for f in frames if not f.startswith("thread ")]
        if not frames:
            continue
        n = int(count)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    if not samples:
        return f"{path.name}: no samples"
    lines = [f"### {path.name}: {samples:,} samples of the thread holding the GIL", "", "Self (leaf) time:"]
    lines += [f"- {n / samples:5.1%}  {frame}" for frame, n in own.most_common(top)]
    project = [(f, n) for f, n in total.most_common() if _in_project(f)]
    libraries = [(f, n) for f, n in total.most_common() if not _in_project(f) and not _plumbing(f)]
    lines += ["", "Inclusive time, project code:"]
    lines += [f"- {n / samples:5.1%}  {frame}" for frame, n in project[:top]]
    lines += ["", "Inclusive time, libraries:"]
    lines += [f"- {n / samples:5.1%}  {frame}" for frame, n in libraries[:top]]
    return "\n".join(lines)


def _in_project(frame: str) -> bool:
    return any(f"({folder}/" in frame for folder in ("webhooks", "incidents", "opsknight", "bench"))


_PLUMBING = (
    "(threading.py)",
    "(concurrent/futures/",
    "(<frozen runpy>)",
    "(click/",
    "(celery/bin/",
    "(celery/__main__.py)",
    "(celery/bootsteps.py)",
    "(celery/worker/worker.py)",
    "kombu/asynchronous",
)


def _plumbing(frame: str) -> bool:
    """Frames every sample passes through: thread bootstraps, the CLI, the event loop."""
    return any(part in frame for part in _PLUMBING) or "celery/app/trace.py" in frame or "celery/concurrency" in frame
