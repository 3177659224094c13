"""The benchmark runs end to end and reports both workloads (speed is measured, never asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: The benchmark, end to end, in a process of its own.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_reports_both_workloads() -> None:
    """Three runs of each workload: every onboarding run goes live, every figure is there."""
    command = [sys.executable, "-m", "bench.onboarding_bench"]
    completed = subprocess.run(
        [*command, "--runs", "3", "--concurrency", "2", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout)

    assert report["activities_per_run"] > 0
    for name in ("onboarding", "baseline"):
        section = report[name]
        assert section["runs"] == 3
        assert section["concurrency"] == 2
        assert section["completed"] == 3, section["failures"]
        assert section["failures"] == []
        assert section["throughput_per_s"] > 0
        assert section["latency_ms"]["p50"] > 0
        assert section["latency_ms"]["p95"] > 0
        assert section["worker_peak_rss_mib"] > 0
    assert report["onboarding"]["ended"] == {"live": 3}
    assert report["baseline"]["ended"] == {"completed": 3}
    assert set(report["ratios"]) >= {"throughput", "p50_latency", "worker_peak_rss"}
    assert report["ok"] is True
