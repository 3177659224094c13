"""Remove one feature at a time and watch the tests that claim it turn red.

``python -m tests.mutants [NAME ...]`` (``make mutants``) copies the working tree to a temporary
folder once per feature, takes the feature out there (a small textual edit, checked to apply),
and runs the tests that claim the feature against the copy (after running them on an unchanged
copy, where they must pass). A feature whose removal leaves
every one of its tests green is reported as uncaught, and the exit status is 1.

The features are those whose loss a customer would notice first: a vendor's ``Retry-After``
honoured, get-or-create at the vendors (nothing created twice), a person's choice of CRM company
applied, rollback on cancel, and SLA escalation up the chain. The suite never runs this (it
takes a few minutes); run it when you change one of these features or their tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "var", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "dist"
)


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (which must occur exactly once) with ``new`` in ``path``."""

    path: str
    old: str
    new: str


@dataclass(frozen=True)
class Mutant:
    """One feature taken out, and the tests that must notice."""

    name: str
    removes: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]


MUTANTS = (
    Mutant(
        "retry-after",
        "a vendor's Retry-After no longer sets the next attempt's delay",
        (
            Edit(
                "activities/common.py",
                """        next_retry_delay=(
            timedelta(seconds=failure.retry_after_seconds)
            if failure.retry_after_seconds is not None
            else None
        ),""",
                "        next_retry_delay=None,",
            ),
        ),
        (
            "tests/test_failures.py::test_429_waits_for_retry_after_then_succeeds",
            "tests/test_errors.py",
        ),
    ),
    Mutant(
        "get-or-create",
        "the support desk and the project tool create without looking for the record first",
        (
            # Both the lookup and the recovery from "already taken": either alone still finds it.
            Edit(
                "onboarding/integrations/zendesk.py",
                "        found = await self.find_organization(external_id)\n        if found is None:",
                "        found = None\n        if found is None:",
            ),
            Edit(
                "onboarding/integrations/zendesk.py",
                "                if failure.error_type != ErrorType.VALIDATION_ERROR:\n"
                "                    raise\n",
                "                raise\n",
            ),
            Edit(
                "onboarding/integrations/asana.py",
                "        existing = await self.find_task(project_gid, task_key)\n",
                "        existing = None\n",
            ),
        ),
        (
            "tests/test_vendor_idempotency.py::"
            "test_lost_creates_inside_the_search_lag_leave_one_record_each_known_as_created",
            "tests/test_vendor_idempotency.py::"
            "test_a_run_recreated_from_scratch_reuses_what_exists_and_goes_live",
            "tests/test_vendor_idempotency.py::"
            "test_asana_get_or_create_with_a_personal_token_and_with_an_oauth_app",
        ),
    ),
    Mutant(
        "choose-match",
        "the company a person chose is not sent to the CRM step",
        (
            Edit(
                "workflows/steps.py",
                "            arg = spec.choose_match(arg, str(resolution.company_id))",
                "            pass",
            ),
        ),
        (
            "tests/workflow/test_safe_actions.py::"
            "test_choose_match_sends_the_chosen_company_and_never_auto_picks",
            "tests/test_failures.py::test_ambiguous_match_is_never_auto_picked",
        ),
    ),
    Mutant(
        "rollback",
        "a cancelled run deletes nothing it created",
        (
            Edit(
                "workflows/cancellation.py",
                "        ctx, state = self.ctx, self.ctx.state\n"
                "        if not request.rollback or not state.linked",
                "        ctx, state = self.ctx, self.ctx.state\n"
                "        if True or not request.rollback or not state.linked",
            ),
        ),
        (
            "tests/workflow/test_cancellation.py",
            "tests/workflow/test_safe_actions.py::"
            "test_cancel_on_an_item_rolls_back_what_the_run_created",
        ),
    ),
    Mutant(
        "escalation",
        "a late stage or item is never escalated past its owner",
        (
            Edit(
                "onboarding/domain/notices.py",
                "        for index, (when, notify) in enumerate(d.escalations):",
                "        for index, (when, notify) in enumerate(d.escalations[:0]):",
            ),
            Edit(
                "onboarding/domain/notices.py",
                """            owed.append(
                item_notice(escalate_at, "escalated", NoticeKind.ESCALATED, "escalation_owner")
            )""",
                "            pass",
            ),
        ),
        (
            "tests/workflow/test_escalation.py",
            "tests/test_sla.py",
            "tests/test_sla_timeskipping.py::"
            "test_technical_item_escalates_up_the_chain_at_the_configured_times",
        ),
    ),
)


def apply(tree: Path, edit: Edit) -> None:
    """Make one edit in the copy, refusing an edit whose text is not there exactly once."""
    path = tree / edit.path
    text = path.read_text()
    count = text.count(edit.old)
    if count != 1:
        raise SystemExit(
            f"mutants: {edit.path}: the text to replace occurs {count} times, not once; "
            "update tests/mutants.py to the code as it is now"
        )
    path.write_text(text.replace(edit.old, edit.new))


def run_mutant(mutant: Mutant, *, control: bool = False) -> tuple[bool, list[str], float]:
    """Whether the mutant's tests failed, what pytest said of it, and the seconds it took.

    ``control``: run the tests on the unchanged copy (they must pass, or a failure proves
    nothing)."""
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        tree = Path(tmp) / "tree"
        shutil.copytree(ROOT, tree, ignore=IGNORED)
        for edit in () if control else mutant.edits:
            apply(tree, edit)
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-rfE",
                "-p",
                "no:cacheprovider",
                *mutant.tests,
            ],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
        )
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        said = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
        said.append(lines[-1] if lines else done.stderr[-200:])
        return done.returncode != 0, said, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    """Run the mutants named (all by default); 1 when any of them went uncaught."""
    parser = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__)
    names = [m.name for m in MUTANTS]
    parser.add_argument("names", nargs="*", metavar="NAME", help=" | ".join(names))
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(names))
    if unknown:
        parser.error(f"no such feature: {', '.join(unknown)} (known: {', '.join(names)})")
    uncaught = 0
    for mutant in MUTANTS:
        if args.names and mutant.name not in args.names:
            continue
        failed, said, _ = run_mutant(mutant, control=True)
        if failed:
            print(f"{mutant.name:<14} its tests fail on the unchanged code; fix them first:")
            print("\n".join(f"{'':<14} {line}" for line in said), flush=True)
            uncaught += 1
            continue
        caught, said, seconds = run_mutant(mutant)
        uncaught += not caught
        verdict = "caught" if caught else "NOT CAUGHT"
        print(f"{mutant.name:<14} {verdict:<10} {seconds:5.0f} s  {mutant.removes}")
        print("\n".join(f"{'':<14} {line}" for line in said), flush=True)
    return 1 if uncaught else 0


if __name__ == "__main__":
    sys.exit(main())
