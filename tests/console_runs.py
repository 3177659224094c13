"""Run installed console scripts many times, each run a fresh process, in seconds rather than
minutes: ``python -m tests.console_runs < jobs.json > results.json``.

Starting Python and importing the SDK and the project costs about a second of CPU per command,
so four hundred commands started with ``exec`` take minutes on a small machine. Here the modules
are imported once; then each run is a child process forked from that state, which calls the
entry point the installed script calls (read from the distribution's ``console_scripts``) and
ends the way the installed script ends: ``sys.exit(entry_point())`` at the top level, interpreter
finalization included. The Temporal runtime is created in each child (the parent never connects),
so every run has its own core threads, as a real command has.

Input (JSON on stdin)::

    {"parallel": 4, "preload": ["onboarding.cli.main"],
     "runs": [{"script": "onboarding", "argv": ["queue"]}, ...]}

Output (JSON on stdout): one ``{"script", "argv", "code", "stderr"}`` per run, in order;
``code`` is negative when the run died of a signal (``-6`` is SIGABRT), as in :mod:`subprocess`.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any


def _become(run: dict[str, Any], script: EntryPoint, stderr_path: str) -> None:
    """In the child: the console script, stdout discarded, stderr to a file. Never returns."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(err, 2)
    sys.argv = [run["script"], *run["argv"]]
    # What the installed script does; SystemExit unwinds to the top level and the interpreter
    # finalizes, exactly as at the end of a console script.
    sys.exit(script.load()())


def main() -> None:
    """Run the jobs read from stdin and print their exit codes."""
    jobs = json.load(sys.stdin)
    for module in jobs.get("preload", []):
        importlib.import_module(module)
    scripts = {ep.name: ep for ep in entry_points(group="console_scripts")}
    runs: list[dict[str, Any]] = jobs["runs"]
    parallel = int(jobs.get("parallel", 4))
    results: list[dict[str, Any] | None] = [None] * len(runs)
    running: dict[int, int] = {}
    workdir = Path(tempfile.mkdtemp(prefix="console-runs-"))
    sys.stdout.flush()
    sys.stderr.flush()
    started = 0
    while started < len(runs) or running:
        while started < len(runs) and len(running) < parallel:
            index = started
            started += 1
            pid = os.fork()
            if pid == 0:
                _become(runs[index], scripts[runs[index]["script"]], str(workdir / f"{index}"))
            running[pid] = index
        pid, status = os.wait()
        index = running.pop(pid)
        stderr_file = workdir / f"{index}"
        results[index] = {
            **runs[index],
            "code": os.waitstatus_to_exitcode(status),
            "stderr": stderr_file.read_text(errors="replace")[-4000:],
        }
        stderr_file.unlink()
    workdir.rmdir()
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
