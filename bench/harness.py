"""What every benchmark shares: child processes that are always stopped, readiness waits, and the
process figures (CPU time, resident set) read from ``/proc``.

Every worker, sandbox and intake a benchmark measures runs in its own process, so that its CPU
time and memory are its own; the dev server is started by the benchmark itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "default"
SANDBOX_READY = re.compile(r"sandbox listening on (http://\S+)")
#: Seconds a child process gets to stop after SIGTERM before it is killed.
STOP_GRACE = 10.0
#: The same, when the benchmark is interrupted or failed.
INTERRUPT_GRACE = 2.0
READY_TIMEOUT = 60.0
MIB = 1024 * 1024


class BenchError(RuntimeError):
    """The benchmark cannot run; the message says why."""


# --- figures ---------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The ``q``-th percentile of sorted values, interpolated linearly between ranks.

    Args:
        sorted_values: The values, ascending.
        q: The percentile, 0 to 100.

    Returns:
        The percentile, or None for no values.
    """
    if not sorted_values:
        return None
    rank = (len(sorted_values) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def rounded(value: float | None, digits: int = 2) -> float | None:
    """``value`` rounded, None kept."""
    return None if value is None else round(value, digits)


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b``, None when either is missing or ``b`` is zero."""
    return None if a is None or b is None or b == 0 else a / b


def proc_status(pid: int) -> dict[str, int]:
    """The ``kB`` fields of ``/proc/<pid>/status``, in bytes (empty when unreadable)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            values[key] = int(parts[0]) * 1024
    return values


def rss_mib(pid: int) -> float | None:
    """A process's resident set now, in MiB."""
    rss = proc_status(pid).get("VmRSS")
    return None if rss is None else rss / MIB


def peak_rss_mib(pid: int) -> float | None:
    """A process's peak resident set so far (``VmHWM``), in MiB."""
    hwm = proc_status(pid).get("VmHWM")
    return None if hwm is None else hwm / MIB


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far, from ``/proc/<pid>/stat``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def machine_load() -> str:
    """The machine as the report states it: cores and load averages (1, 5, 15 minutes)."""
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    return f"{os.cpu_count()} cores, load average {load}"


class RssSampler:
    """Samples a process's ``VmRSS``: the fallback when the kernel reports no ``VmHWM``."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.peak: int | None = None
        self._task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        """Take one sample."""
        rss = proc_status(self.pid).get("VmRSS")
        if rss is not None:
            self.peak = rss if self.peak is None else max(self.peak, rss)

    async def _loop(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        """Start sampling in the background."""
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Stop sampling, after a last sample."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()


# --- child processes -------------------------------------------------------------------------


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: ours, minus what would point it elsewhere.

    Temporal connection variables are dropped (the address and namespace are passed explicitly),
    and so are the rules, task-queue and ledger overrides; the project root goes on
    ``PYTHONPATH``. ``PYTHONDONTWRITEBYTECODE`` is dropped too: the workflow sandbox imports the
    workflow's module afresh for every run, and without bytecode on disk (an installed wheel
    has it) each of those imports would compile the module from source again.
    """
    dropped = {
        "ONBOARDING_RULES_FILE",
        "ONBOARDING_TASK_QUEUE",
        "ONBOARDING_LEDGER_URL",
        "SANDBOX_URL",
        "PYTHONDONTWRITEBYTECODE",
    }
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_") and k not in dropped
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def stop_process(proc: subprocess.Popen[bytes], grace: float = STOP_GRACE) -> None:
    """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; returns once the process is gone."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()


@contextlib.contextmanager
def child_process(
    argv: list[str], *, log: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a command for the duration of the block, its output in ``log``; always stopped.

    Args:
        argv: The command.
        log: File receiving its stdout and stderr.
        env: Its environment.

    Yields:
        The ``subprocess.Popen`` of the process.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    except BaseException:
        # Interrupted or failed: the dev server may be gone already (a terminal's Ctrl-C reaches
        # it too), and a worker cannot shut down gracefully without it; do not wait long.
        stop_process(proc, grace=INTERRUPT_GRACE)
        raise
    stop_process(proc)


def read_log(log: Path) -> str:
    """What a log file holds so far (empty when unreadable)."""
    try:
        return log.read_text(errors="replace")
    except OSError:
        return ""


def tail(log: Path, lines: int = 15) -> str:
    """The last lines of a log file, indented, for an error message."""
    text = read_log(log)
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:]) or "    (no output)"


def check_alive(proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Raise :class:`BenchError` with the end of its log when the process has exited."""
    if proc.poll() is not None:
        raise BenchError(f"{what} exited with status {proc.returncode}:\n{tail(log)}")


async def wait_for_output(
    proc: subprocess.Popen[bytes], log: Path, pattern: re.Pattern[str], what: str
) -> re.Match[str]:
    """Wait until the process writes a line matching ``pattern``.

    Raises:
        BenchError: When the process exits first or the deadline passes.
    """
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        match = pattern.search(read_log(log))
        if match:
            return match
        check_alive(proc, log, what)
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not ready after {READY_TIMEOUT:.0f}s:\n{tail(log)}")
        await asyncio.sleep(0.05)


async def wait_for_pollers(
    client: Client, task_queue: str, proc: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    """Wait until the worker polls the task queue for both workflow and activity tasks.

    Raises:
        BenchError: When the process exits first or the deadline passes.
    """
    deadline = time.monotonic() + READY_TIMEOUT
    kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    while True:
        check_alive(proc, log, what)
        polled = []
        for kind in kinds:
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=client.namespace,
                    task_queue=TaskQueue(name=task_queue),
                    task_queue_type=kind,
                )
            )
            polled.append(bool(response.pollers))
        if all(polled):
            return
        if time.monotonic() > deadline:
            raise BenchError(f"{what} not polling after {READY_TIMEOUT:.0f}s:\n{tail(log)}")
        await asyncio.sleep(0.1)


def worker_argv(module: str, address: str, task_queue: str, *extra: str) -> list[str]:
    """The command line of a worker process (``workers.main`` or ``bench.baseline_worker``)."""
    return [
        sys.executable,
        "-m",
        module,
        "--address",
        address,
        "--namespace",
        NAMESPACE,
        "--task-queue",
        task_queue,
        *extra,
    ]


# --- output ----------------------------------------------------------------------------------


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries only the report)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr for the block, so that child processes started in it
    (the dev server, spawned by the SDK's core) write their output to stderr, not to stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def work_dir(log_dir: str | None) -> Iterator[Path]:
    """Where the databases and the child processes' logs go (temporary by default)."""
    if log_dir:
        path = Path(log_dir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="onboarding-bench-") as tmp:
        yield Path(tmp)
