"""The distribution as an image installs it: the wheel, in a fresh virtual environment, run from
a folder that is not the source tree. ``deploy/Dockerfile`` builds and installs that same wheel
(there is no container engine on the development machines; this install is its test)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from onboarding.runtime.metrics import DEFAULT_METRICS_PORT
from tests.deploy.processes import ROOT, free_port, worker_env, worker_process
from tests.support import eventually

#: Builds the wheel and installs it into a fresh virtual environment.
pytestmark = pytest.mark.slow

LAYOUT = {"workflows", "activities", "workers", "starters", "onboarding"}
ENTRY_POINTS = (
    "onboarding",
    "onboarding-worker",
    "onboarding-start",
    "onboarding-demo",
    "onboarding-sandbox",
    "onboarding-intake",
    "onboarding-codec-server",
)


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def build_context(into: Path) -> Path:
    """The source tree as ``docker build`` sees it: without what ``.dockerignore`` leaves out
    (a stale ``*.egg-info`` of an editable install would otherwise decide the wheel's files)."""
    patterns = [
        line.strip().removeprefix("**/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return Path(shutil.copytree(ROOT, into / "src", ignore=shutil.ignore_patterns(*patterns)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built as the Dockerfile's first stage builds it, from the same context."""
    out = tmp_path_factory.mktemp("wheels")
    context = build_context(tmp_path_factory.mktemp("context"))
    assert not list(context.glob("*.egg-info")) and not (context / ".venv").exists()
    done = run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), "."],
        cwd=context,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = out.glob("onboarding_control_plane-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtual environment with the wheel and its declared dependencies, nothing else."""
    root = tmp_path_factory.mktemp("venv")
    assert run([sys.executable, "-m", "venv", str(root)]).returncode == 0
    done = run(
        [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield root


def test_the_wheel_holds_the_layout_packages_and_the_package_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top_level = {n.split("/", 1)[0] for n in names if not n.split("/", 1)[0].endswith(".dist-info")}
    assert top_level == LAYOUT, f"generic top-level packages shadow other libraries: {top_level}"
    data = ROOT / "onboarding" / "data"
    shipped = sorted(
        str(p.relative_to(ROOT))
        for p in data.rglob("*")
        if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    )
    assert any(p.endswith(".toml") for p in shipped) and any("schemas" in p for p in shipped)
    missing = [p for p in shipped if p not in names]
    assert not missing, f"package data left out of the wheel: {missing}"
    assert "onboarding/py.typed" in names


def test_the_dockerfile_installs_that_wheel_and_nothing_else(wheel: Path) -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) == 2, "a build stage and a runtime stage"
    build, runtime = stages
    assert re.search(r"pip wheel .*--no-deps .*--wheel-dir /wheels \.", build)
    assert "COPY --from=build /wheels /wheels" in runtime
    assert re.search(r"pip install .*/wheels/\*\.whl", runtime)
    copies = [line for line in runtime.splitlines() if line.startswith(("COPY", "ADD"))]
    assert copies == ["COPY --from=build /wheels /wheels"], "the source tree stays out"
    (cmd,) = re.findall(r'^CMD \["([^"]+)"', runtime, flags=re.MULTILINE)
    assert cmd in ENTRY_POINTS
    assert f"EXPOSE {DEFAULT_METRICS_PORT}" in runtime
    assert re.search(r"^USER \w+", runtime, flags=re.MULTILINE), "not root"
    # The runtime stage's Python is the one the wheel was tested on.
    base = runtime.split()[0]
    assert base.startswith(f"python:{sys.version_info.major}.{sys.version_info.minor}-")


async def test_installed_worker_starter_and_cli_take_a_sample_run_live(
    venv: Path, client: Client, tmp_path: Path
) -> None:
    bin_dir = venv / "bin"
    elsewhere = tmp_path / "elsewhere"  # not the source tree: nothing importable by accident
    elsewhere.mkdir()
    for entry in ENTRY_POINTS:
        assert (bin_dir / entry).exists(), f"{entry} is not installed"
    where = run(
        [str(bin_dir / "python"), "-c", "import onboarding, workflows; print(onboarding.__file__)"],
        cwd=elsewhere,
    )
    assert where.returncode == 0 and where.stdout.startswith(str(venv)), where

    address = client.service_client.config.target_host
    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    env = worker_env(sandbox_url, TEMPORAL_ADDRESS=address, TEMPORAL_NAMESPACE=client.namespace)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    task_queue = f"wheel-{uuid.uuid4()}"
    sandbox = [
        str(bin_dir / "onboarding-sandbox"),
        "--port",
        str(port),
        "--db",
        str(tmp_path / "sandbox.sqlite3"),
    ]
    worker = [str(bin_dir / "onboarding-worker"), "--task-queue", task_queue]
    with (
        worker_process(sandbox, env=env, log=tmp_path / "sandbox.log", cwd=elsewhere),
        worker_process(worker, env=env, log=tmp_path / "worker.log", cwd=elsewhere),
    ):

        async def sandbox_up() -> bool:
            try:
                async with httpx.AsyncClient() as http:
                    return (await http.get(f"{sandbox_url}/_admin/state")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(sandbox_up, bool, what="the installed sandbox")
        # The sample event, read from the installed package data, under a fresh invoice ID.
        sample = run(
            [
                str(bin_dir / "python"),
                "-c",
                "from onboarding.data import SAMPLES;"
                "print((SAMPLES / 'events' / '03-globex-invoice-paid.json').read_text())",
            ],
            cwd=elsewhere,
        )
        event = json.loads(sample.stdout)
        invoice = f"in_wheel{uuid.uuid4().hex[:12]}"
        event["data"]["object"]["id"] = invoice
        (elsewhere / "event.json").write_text(json.dumps(event))

        started = await asyncio.to_thread(
            run,
            [str(bin_dir / "onboarding-start"), "event.json", "--task-queue", task_queue, "--wait"],
            cwd=elsewhere,
            env=env,
            timeout=120,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        assert f"transaction stripe-{invoice}: live" in started.stdout

        shown = await asyncio.to_thread(
            run, [str(bin_dir / "onboarding"), "show", f"stripe-{invoice}"], cwd=elsewhere, env=env
        )
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "live" in shown.stdout and "Globex" in shown.stdout
        # The worker ran with the bundled rules, found through the installed package data.
        rules = await asyncio.to_thread(
            run, [str(bin_dir / "onboarding"), "rules", f"stripe-{invoice}"], cwd=elsewhere, env=env
        )
        assert rules.returncode == 0, rules.stdout + rules.stderr
        text = (ROOT / "onboarding" / "data" / "rules" / "onboarding-rules.toml").read_bytes()
        version = tomllib.loads(text.decode())["version"]
        assert f"Rules {version} from onboarding-rules.toml" in rules.stdout
        assert f"sha256 {hashlib.sha256(text).hexdigest()}" in rules.stdout
