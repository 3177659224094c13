"""What a new user copies from the README works: the binaries and files it names exist, and
``make demo-reset`` forgets the demo without touching the virtual environment."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def test_every_binary_the_readme_runs_is_installed() -> None:
    named = set(re.findall(r"\.venv/bin/([\w-]+)", README))
    assert {"onboarding", "onboarding-start", "temporal"} <= named
    for name in sorted(named):
        assert (BIN / name).exists(), f"README runs .venv/bin/{name}, which is not installed"
    # Every `temporal workflow ...` command names where the binary is.
    for line in README.splitlines():
        if "temporal workflow " in line:
            assert ".venv/bin/temporal workflow" in line, line


def test_every_file_the_readme_names_exists() -> None:
    paths = set(re.findall(r"`((?:onboarding|deploy|workflows|starters)/[\w./-]+\.\w+)`", README))
    assert "onboarding/data/rules/onboarding-rules.toml" in paths
    for path in sorted(paths):
        assert (ROOT / path).exists(), f"README names {path}"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_demo_reset_forgets_the_demo_and_keeps_the_virtual_environment(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "temporal.sqlite3").write_text("runs")
    (tmp_path / "var" / "codec.keys").write_text("keys")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / ".installed").write_text("")
    done = subprocess.run(
        ["make", "demo-reset"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "var").exists()
    assert (tmp_path / ".venv" / ".installed").exists()
