"""The abuse bench runs end to end, bounded, and every one of its checks holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: The abuse bench, end to end, in a process of its own.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_abuse_bench_holds_every_check() -> None:
    command = [sys.executable, "-m", "bench.intake_abuse", "--requests", "150"]
    completed = subprocess.run(
        [*command, "--stall-seconds", "2", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    checks = {c["name"].split(":")[0]: c for c in json.loads(completed.stdout)}
    assert set(checks) == {"hostile", "stall", "people", "store"}
    assert all(c["ok"] and not c["problems"] for c in checks.values()), checks
    assert not any(code >= 500 for code in map(int, checks["hostile"]["figures"]["answers"]))
    assert checks["stall"]["figures"]["health_probes"] > 10
