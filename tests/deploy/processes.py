"""Worker processes as an operator runs them, and the Prometheus text they serve."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def free_port() -> int:
    """A TCP port nobody listens on right now, on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def worker_env(sandbox_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process: this one's, the sandbox, nothing of Temporal's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    env.update(SANDBOX_URL=sandbox_url, PYTHONUNBUFFERED="1", **extra)
    return env


@contextmanager
def worker_process(
    command: list[str],
    *,
    env: Mapping[str, str],
    log: Path,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (a worker) in its own process group; stop it (SIGTERM, then SIGKILL)
    when the block ends unless the test already did."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd or ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)


def worker_command(address: str, namespace: str, task_queue: str, *args: str) -> list[str]:
    """``onboarding-worker`` from this checkout, as ``python -m workers.main``."""
    return [
        sys.executable,
        "-m",
        "workers.main",
        "--address",
        address,
        "--namespace",
        namespace,
        "--task-queue",
        task_queue,
        *args,
    ]


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_prometheus(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, keyed by name and labels."""
    samples: Samples = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or line.startswith("#"):
            continue
        labels = frozenset(_LABEL.findall(match.group(3) or ""))
        samples[(match.group(1), labels)] = float(match.group(4))
    return samples


async def scrape(url: str) -> Samples:
    """GET ``url`` and parse it."""
    async with httpx.AsyncClient(timeout=5) as http:
        response = await http.get(url)
        response.raise_for_status()
        return parse_prometheus(response.text)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over every series whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)
