"""The Monday report from a generated fortnight, checked against the ledger by independent
counting; the export, its offline verification and tampering, on both engines."""

from __future__ import annotations

import asyncio
import json
import statistics
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy
import pytest
import sqlalchemy as sa

from bench.ledger_week import generate
from onboarding.cli.main import main as cli_main
from onboarding.domain.audit import WORKER_ACTOR, AuditEntry
from onboarding.domain.stages import Stage
from onboarding.ledger.chain import verify_lines
from onboarding.ledger.models import RunFacts
from onboarding.ledger.render import render_html, render_text
from onboarding.ledger.report import WeeklyReport, parse_week, weekly_report
from onboarding.ledger.store import Ledger
from tests.ledger.conftest import ENGINES, fresh_database

ROOT = Path(__file__).resolve().parents[2]
WEEK = parse_week("2026-W46")
START = datetime(2026, 11, 9, tzinfo=UTC)
END = START + timedelta(days=7)
NOW = datetime(2026, 11, 19, 12, tzinfo=UTC)  # Thursday of the next week


@pytest.fixture(scope="module", params=ENGINES)
def fortnight_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per engine for the module's tests, which only read it."""
    with fresh_database(request.param, tmp_path_factory.mktemp("fortnight"), request) as url:
        yield url


@pytest.fixture(scope="module")
async def fortnight(fortnight_url: str) -> AsyncIterator[Ledger]:
    """Two weeks of runs written through the activity, and one run with an unowned stage."""
    ledger = Ledger(fortnight_url)
    await generate(ledger, WEEK + timedelta(weeks=1), weeks=2, runs_per_week=25, seed=46, now=NOW)
    at = START + timedelta(days=2)
    ledger.append(
        "manual-unowned",
        RunFacts(customer_name="Nobody Owns Ltd", tier="smb"),
        [
            (
                1,
                AuditEntry(
                    at=at,
                    actor=WORKER_ACTOR,
                    action="run-started",
                    stage=Stage.RECEIVED,
                    detail="manual",
                    data={"system": "manual"},
                ),
            ),
            (
                2,
                AuditEntry(
                    at=at,
                    actor=WORKER_ACTOR,
                    action="stage",
                    stage=Stage.VALIDATING,
                    detail="no owner",
                    data={"owner": ""},
                ),
            ),
        ],
    )
    yield ledger
    ledger.close()


def raw(ledger: Ledger) -> list[dict[str, Any]]:
    """Every entry, straight from the table."""
    with ledger.engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT * FROM ledger_entries ORDER BY transaction_id, seq")
        )
        out = []
        for row in rows.mappings():
            at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(row["at"])
            data = row["data"] if isinstance(row["data"], dict) else json.loads(row["data"])
            out.append({**row, "at": at if at.tzinfo else at.replace(tzinfo=UTC), "data": data})
        return out


def test_week_bounds() -> None:
    assert parse_week("2026-W47") == date(2026, 11, 16)
    with pytest.raises(ValueError, match="2026-W47"):
        parse_week("last week")


async def test_report_figures_match_the_ledger_counted_independently(fortnight: Ledger) -> None:
    report = weekly_report(fortnight, WEEK, now=NOW)
    rows = raw(fortnight)
    in_week = [r for r in rows if START <= r["at"] < END]
    before_end = [r for r in rows if r["at"] < END]

    def of(action: str, source: list[dict[str, Any]] = in_week) -> list[dict[str, Any]]:
        return [r for r in source if r["action"] == action]

    start_of = {r["transaction_id"]: r["at"] for r in of("run-started", rows)}
    started = {tx for tx, at in start_of.items() if START <= at < END}
    live = {r["transaction_id"]: r["at"] for r in of("live")}
    ended_before_end = {
        r["transaction_id"] for r in before_end if r["action"] in ("live", "cancelled", "failed")
    }
    seen_before_end = {r["transaction_id"] for r in before_end}

    assert report.runs_started == len(started) > 20
    assert report.runs_live == len(live) > 15
    assert report.runs_cancelled == len(of("cancelled"))
    assert report.runs_open_at_end == len(seen_before_end - ended_before_end) > 0

    phases = Counter(
        r["data"]["phase"] for r in of("rules-loaded", rows) if r["transaction_id"] in started
    )
    phases["unknown"] += 1  # the manual run has no rules entry
    assert report.runs_by_phase == dict(phases)
    assert {"full-provisioning", "crm-and-tasks"} <= set(report.runs_by_phase)

    breaches = [r for r in of("notice") if r["data"]["kind"] == "breached"]
    assert len(report.sla_breaches) == len(breaches) > 0
    assert sum(report.sla_breaches_by_stage.values()) == len(breaches)

    opened = of("exception-opened")
    assert report.exceptions_opened == len(opened) > 0
    assert {c.name: c.count for c in report.top_exception_categories} == dict(
        Counter(r["data"]["category"] for r in opened)
    )
    assert report.exceptions_per_10_onboardings == pytest.approx(10 * len(opened) / len(started))

    still_open = {
        (r["transaction_id"], r["data"]["exception_id"]) for r in of("exception-opened", before_end)
    } - {
        (r["transaction_id"], r["data"]["exception_id"])
        for r in of("exception-resolved", before_end)
    }
    assert {(i.transaction_id, i.exception_id) for i in report.open_exceptions} == still_open

    overrides = [r for r in of("person-action") if r["data"]["action"] != "sign-off"]
    assert len(report.overrides) == len(overrides) > 0
    assert {o.reason for o in report.overrides} == {r["data"]["reason"] for r in overrides}

    fields = Counter(f for r in of("payload-incomplete") for f in r["data"]["fields"].split(","))
    assert {c.name: c.count for c in report.top_validation_failures} == dict(fields)

    lead = [(at - start_of[tx]).total_seconds() / 3600 for tx, at in live.items()]
    assert report.median_lead_time_hours == pytest.approx(statistics.median(lead), abs=0.01)

    with_items = {r["transaction_id"] for r in of("exception-opened", rows)}
    assert report.completed_without_exception_share == pytest.approx(
        len(set(live) - with_items) / len(live)
    )

    opened_at = {
        (r["transaction_id"], r["data"]["exception_id"]): r["at"]
        for r in of("exception-opened", rows)
    }
    resolve = [
        (r["at"] - opened_at[(r["transaction_id"], r["data"]["exception_id"])]).total_seconds()
        / 3600
        for r in of("exception-resolved")
        if r["data"]["action"] != "cancelled"
    ]
    assert report.mean_time_to_resolve_hours == pytest.approx(statistics.fmean(resolve))

    first_pass: dict[str, list[dict[str, Any]]] = {}
    for r in of("qa-check", rows):
        if r["data"]["pass"] == "1":
            first_pass.setdefault(r["transaction_id"], []).append(r)
    checked = {tx: checks for tx, checks in first_pass.items() if START <= checks[0]["at"] < END}
    passed = [
        tx for tx, checks in checked.items() if all(c["data"]["ok"] == "true" for c in checks)
    ]
    assert report.qa_runs_checked == len(checked)
    assert report.qa_first_pass_rate == pytest.approx(len(passed) / len(checked))
    assert report.qa_first_pass_rate < 1

    assert [(u.transaction_id, u.seq) for u in report.unowned_steps] == [("manual-unowned", 2)]

    days = sorted(
        int(
            numpy.busday_count(
                start_of[tx].date() + timedelta(days=1), at.date() + timedelta(days=1)
            )
        )
        for tx, at in live.items()
    )
    assert report.time_to_first_value_days == days

    with fortnight.engine.connect() as connection:
        health = connection.execute(
            sa.text(
                "SELECT system, http_status, retry_delay_seconds FROM ledger_vendor_failures "
                "WHERE at >= :start AND at < :end"
            ),
            {"start": START, "end": END},
        ).all()
    assert health
    for h in report.api_health:
        mine = [row for row in health if row.system == h.system]
        assert h.rate_limited == sum(row.http_status == 429 for row in mine)
        assert h.server_errors == sum(500 <= row.http_status < 600 for row in mine)
    delays = [row.retry_delay_seconds for row in health if row.retry_delay_seconds is not None]
    assert report.average_retry_delay_seconds == pytest.approx(statistics.fmean(delays))

    # Runs not in their expected state: open at the end, on an open item or a breached stage.
    open_runs = seen_before_end - ended_before_end
    expected: set[str] = set()
    for tx in open_runs:
        trail = [r for r in before_end if r["transaction_id"] == tx]
        items = {r["data"]["exception_id"] for r in trail if r["action"] == "exception-opened"}
        items -= {r["data"]["exception_id"] for r in trail if r["action"] == "exception-resolved"}
        stage = trail[-1]["stage"]
        breached = any(
            r["action"] == "notice"
            and r["data"]["kind"] == "breached"
            and r["data"]["clock"] == f"stage:{stage}"
            for r in trail
        )
        if items or breached:
            expected.add(tx)
    assert {n.transaction_id for n in report.not_in_expected_state} == expected

    text = render_text(report)
    assert "Unowned steps (must be 0)" in text and "manual-unowned" in text


async def test_html_report_is_one_self_contained_page_with_three_charts(fortnight: Ledger) -> None:
    page = render_html(weekly_report(fortnight, WEEK, now=NOW))
    assert page.count("<svg") == 3
    assert "<script" not in page and "src=" not in page and "<link" not in page
    for title in ("Lead time, trigger to live", "Exceptions by category", "SLA breaches by stage"):
        assert title in page
    assert page.count("<path") > 30  # bars, axes and ticks were drawn


@dataclass
class Done:
    """How one ``onboarding`` command ended: its exit code and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """``onboarding`` as a person runs it, with Temporal unreachable: nothing here needs it.
    In this process (main() returns the exit code): a cold interpreter per command would cost
    seconds each."""

    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch

    async def __call__(self, *args: str, url: str, check: bool = True) -> Done:
        self.monkeypatch.setenv("ONBOARDING_LEDGER_URL", url)
        self.monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
        self.capsys.readouterr()
        code = await asyncio.to_thread(cli_main, list(args))
        out, err = self.capsys.readouterr()
        if check:
            assert code == 0, err
        return Done(code, out, err)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return Cli(capsys, monkeypatch)


async def test_export_verify_and_tampering(
    fortnight: Ledger, fortnight_url: str, tmp_path: Path, cli: Cli
) -> None:
    export = tmp_path / "ledger.jsonl"
    await cli("audit", "export", "--since", "2026-11-01", "--out", str(export), url=fortnight_url)
    lines = export.read_text().splitlines()
    assert len(lines) == len(raw(fortnight))
    ok = await cli("audit", "verify", str(export), url=fortnight_url)
    assert "OK" in ok.stdout and "chain intact" in ok.stdout

    # Edit one line: verify fails and names it.
    target = 41
    row = json.loads(lines[target - 1])
    row["detail"] = "nothing happened here"
    edited = [*lines[: target - 1], json.dumps(row), *lines[target:]]
    export.write_text("\n".join(edited) + "\n")
    broken = await cli("audit", "verify", str(export), url=fortnight_url, check=False)
    assert broken.returncode == 1
    assert f"BROKEN at line {target} ({row['transaction_id']} #{row['seq']})" in broken.stdout
    assert "edited" in broken.stdout

    # Remove one line (not a run's first): the row after it is named.
    index = next(i for i, line in enumerate(lines) if json.loads(line)["seq"] == 3)
    gap = verify_lines(lines[:index] + lines[index + 1 :]).broken
    assert gap is not None and gap.line == index + 1 and "missing" in gap.reason

    # One run's export chains from its first row.
    one_run = json.loads(lines[0])["transaction_id"]
    single = [json.dumps(r) for r in fortnight.rows(transaction_id=one_run)]
    assert verify_lines(single).ok and verify_lines(single).runs == 1
    missing = await cli("audit", "export", "no-such-run", url=fortnight_url, check=False)
    assert missing.returncode == 4 and "holds nothing for no-such-run" in missing.stderr


async def test_report_and_export_need_no_temporal(
    fortnight: Ledger, fortnight_url: str, cli: Cli
) -> None:
    """The report and the export come from the ledger alone: with Temporal unreachable (an
    emptied or lost store is the same to them) they answer, and answer the same twice."""
    first = await cli("report", "--week", "2026-W46", "--format", "json", url=fortnight_url)
    again = await cli("report", "--week", "2026-W46", "--format", "json", url=fortnight_url)
    assert first.stdout == again.stdout
    report = WeeklyReport.model_validate_json(first.stdout)
    assert report.week == "2026-W46" and report.runs_started > 20
    assert report == weekly_report(fortnight, WEEK, now=NOW).model_copy(
        update={
            "time_to_first_value_days": report.time_to_first_value_days,
            "median_time_to_first_value_days": report.median_time_to_first_value_days,
            "first_value_within_target_share": report.first_value_within_target_share,
        }
    )
