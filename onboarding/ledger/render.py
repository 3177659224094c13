"""The Monday report for people: a text table, a self-contained HTML page, a chat summary."""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from onboarding.ledger.report import WeeklyReport


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _num(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


def _age(hours: float | None) -> str:
    if hours is None:
        return "-"
    if hours < 1:
        return f"{round(hours * 60)}m"
    if hours < 48:
        return f"{hours:.1f}h"
    return f"{hours / 24:.1f}d"


def _when(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M}"


def headline(report: WeeklyReport) -> list[tuple[str, str]]:
    """The measures at the top of every form of the report, as (label, value)."""
    low, high = report.first_value_target_days
    return [
        (
            "Runs",
            f"{report.runs_started} started, {report.runs_live} live, "
            f"{report.runs_cancelled} cancelled, {report.runs_open_at_end} open at the end",
        ),
        (
            "Rollout phases (runs started)",
            ", ".join(f"{k} {v}" for k, v in report.runs_by_phase.items()) or "-",
        ),
        ("Runs not in their expected state", str(len(report.not_in_expected_state))),
        ("SLA breaches", str(len(report.sla_breaches))),
        (
            "Exception queue at the end",
            f"{len(report.open_exceptions)} open, median age "
            f"{_age(report.open_exception_median_age_hours)}, oldest "
            f"{_age(report.open_exception_oldest_age_hours)}",
        ),
        ("Median onboarding lead time", _age(report.median_lead_time_hours)),
        (
            "Completed without an exception",
            f"{_pct(report.completed_without_exception_share)} of {report.runs_live} live",
        ),
        ("Exceptions per 10 onboardings", _num(report.exceptions_per_10_onboardings)),
        (
            "Mean time to resolve an exception",
            f"{_age(report.mean_time_to_resolve_hours)} ({report.exceptions_resolved} resolved)",
        ),
        (
            "QA first-pass rate",
            f"{_pct(report.qa_first_pass_rate)} of {report.qa_runs_checked} runs",
        ),
        ("Unowned steps (must be 0)", str(len(report.unowned_steps))),
        (
            "Time to first value",
            f"median {_num(report.median_time_to_first_value_days, '', 0)} business days to "
            f"live, {_pct(report.first_value_within_target_share)} within {high} "
            f"(target {low} to {high})",
        ),
        (
            "API health",
            "; ".join(
                f"{h.system}: {h.rate_limited} x 429, {h.server_errors} x 5xx"
                for h in report.api_health
            )
            or "no vendor failures",
        ),
        ("Average retry delay", _num(report.average_retry_delay_seconds, " s")),
    ]


def _sections(report: WeeklyReport) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every detail table: (title, headers, rows)."""
    return [
        (
            f"Runs not in their expected state ({len(report.not_in_expected_state)})",
            ["TRANSACTION", "CUSTOMER", "STAGE", "OWNER", "IN STAGE SINCE", "WHY"],
            [
                [
                    r.transaction_id,
                    r.customer or "?",
                    r.stage,
                    r.owner or "-",
                    _when(r.since),
                    r.reason,
                ]
                for r in report.not_in_expected_state
            ],
        ),
        (
            f"SLA breaches ({len(report.sla_breaches)}), by stage: "
            + (", ".join(f"{k} {v}" for k, v in report.sla_breaches_by_stage.items()) or "none"),
            ["AT", "TRANSACTION", "CUSTOMER", "STAGE", "CLOCK", "TOLD"],
            [
                [_when(b.at), b.transaction_id, b.customer or "?", b.stage, b.clock, b.recipients]
                for b in report.sla_breaches
            ],
        ),
        (
            f"Exception queue at the end of the week ({len(report.open_exceptions)} open)",
            ["OPENED", "AGE", "TRANSACTION", "CUSTOMER", "CATEGORY", "OWNER"],
            [
                [
                    _when(i.opened_at),
                    _age(i.age_hours),
                    i.transaction_id,
                    i.customer or "?",
                    i.category,
                    i.owner,
                ]
                for i in report.open_exceptions
            ],
        ),
        (
            f"Top exception categories ({report.exceptions_opened} opened this week)",
            ["CATEGORY", "ITEMS"],
            [[c.name, str(c.count)] for c in report.top_exception_categories],
        ),
        (
            "Top recurring validation failures",
            ["FIELD", "TIMES", "RUNS"],
            [[c.name, str(c.count), str(c.runs)] for c in report.top_validation_failures],
        ),
        (
            f"Manual overrides ({len(report.overrides)})",
            ["AT", "TRANSACTION", "WHO", "ACTION", "REASON"],
            [
                [_when(o.at), o.transaction_id, o.actor, o.action, o.reason]
                for o in report.overrides
            ],
        ),
        (
            f"Unowned steps ({len(report.unowned_steps)}, must be 0)",
            ["TRANSACTION", "ENTRY", "ACTION", "STAGE"],
            [[u.transaction_id, f"#{u.seq}", u.action, u.stage] for u in report.unowned_steps],
        ),
        (
            "API health",
            ["SYSTEM", "429", "5XX", "OTHER", "AVG RETRY DELAY"],
            [
                [
                    h.system,
                    str(h.rate_limited),
                    str(h.server_errors),
                    str(h.other_failures),
                    _num(h.average_retry_delay_seconds, " s"),
                ]
                for h in report.api_health
            ],
        ),
        (
            f"Runs started this week ({report.runs_started}) and the phase each ran under",
            ["STARTED", "TRANSACTION", "CUSTOMER", "TIER", "PHASE", "RULES", "STAGE", "LEAD TIME"],
            [
                [
                    _when(r.started_at),
                    r.transaction_id,
                    r.customer or "?",
                    r.tier or "?",
                    r.phase or "?",
                    r.rules_version or "?",
                    r.stage,
                    _age(r.lead_time_hours),
                ]
                for r in report.runs
            ],
        ),
    ]


def _text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join("  " + line.rstrip() for line in lines)


def _title(report: WeeklyReport) -> str:
    last_day = report.end - timedelta(days=1)
    return (
        f"Onboarding report {report.week} ({report.start:%Y-%m-%d} to {last_day:%Y-%m-%d} UTC, "
        f"as of {_when(report.as_of)})"
    )


def render_text(report: WeeklyReport) -> str:
    """The report as a terminal reads it."""
    out = [_title(report), ""]
    width = max(len(label) for label, _ in headline(report))
    out += [f"{label.ljust(width)}  {value}" for label, value in headline(report)]
    for title, headers, rows in _sections(report):
        out += ["", title.upper() if rows else f"{title.upper()}: none"]
        if rows:
            out.append(_text_table(headers, rows))
    return "\n".join(out) + "\n"


def render_chat(report: WeeklyReport) -> str:
    """A short summary for the chat webhook."""
    worst = ", ".join(f"{c.name} {c.count}" for c in report.top_exception_categories[:3])
    return (
        f"*Onboarding {report.week}*: {report.runs_started} started, {report.runs_live} live, "
        f"{report.runs_open_at_end} open. {len(report.not_in_expected_state)} not in their "
        f"expected state, {len(report.sla_breaches)} SLA breaches, "
        f"{len(report.open_exceptions)} exceptions open (oldest "
        f"{_age(report.open_exception_oldest_age_hours)}; top: {worst or 'none'}). "
        f"Median lead time {_age(report.median_lead_time_hours)}, QA first pass "
        f"{_pct(report.qa_first_pass_rate)}, unowned steps {len(report.unowned_steps)}."
    )


# ------------------------------------------------------------------ HTML and charts

_PALETTE = ["#3867d6", "#eb3b5a", "#f7b731", "#20bf6b", "#8854d0", "#fa8231", "#0fb9b1", "#778ca3"]


def _svg(name: str, draw: Callable[[Any], None], *, width: float = 6.4, height: float = 3.2) -> str:
    """One chart as inline SVG (text stays text, ids unique per chart)."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": name,
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        figure = Figure(figsize=(width, height), layout="constrained")
        draw(figure.add_subplot())
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _no_data(axes: Any, text: str) -> None:
    axes.text(0.5, 0.5, text, ha="center", va="center", transform=axes.transAxes, color="#888")
    axes.set_xticks([])
    axes.set_yticks([])


def lead_time_chart(report: WeeklyReport) -> str:
    """Distribution of the week's lead times (trigger to live)."""

    def draw(axes: Any) -> None:
        values = report.lead_times_hours
        if not values:
            _no_data(axes, "no run went live this week")
            return
        bins = [0, 1, 4, 8, 24, 48, 72, 120, 168, 336]
        labels = ["<1h", "1-4h", "4-8h", "8-24h", "1-2d", "2-3d", "3-5d", "5-7d", "7-14d", ">14d"]
        counts = [0] * len(labels)
        for v in values:
            index = next((i for i, b in enumerate(bins[1:]) if v < b), len(labels) - 1)
            counts[index] += 1
        axes.bar(labels, counts, color=_PALETTE[0])
        axes.set_ylabel("runs")
        axes.set_title("Lead time, trigger to live")
        axes.tick_params(axis="x", labelrotation=30)

    return _svg("lead-time", draw)


def exceptions_chart(report: WeeklyReport) -> str:
    """Exception items opened per week, by category (stacked)."""

    def draw(axes: Any) -> None:
        weeks = [w.week for w in report.exceptions_by_week]
        categories = sorted({c for w in report.exceptions_by_week for c in w.categories})
        if not categories:
            _no_data(axes, "no exception items")
            return
        bottom = [0] * len(weeks)
        for n, category in enumerate(categories):
            counts = [w.categories.get(category, 0) for w in report.exceptions_by_week]
            axes.bar(
                weeks, counts, bottom=bottom, label=category, color=_PALETTE[n % len(_PALETTE)]
            )
            bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        axes.set_ylabel("items opened")
        axes.set_title("Exceptions by category, week by week")
        axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        axes.tick_params(axis="x", labelrotation=30)

    return _svg("exceptions", draw)


def breaches_chart(report: WeeklyReport) -> str:
    """SLA breaches of the week by stage."""

    def draw(axes: Any) -> None:
        items = list(report.sla_breaches_by_stage.items())
        if not items:
            _no_data(axes, "no SLA breach this week")
            return
        stages = [k for k, _ in items][::-1]
        counts = [v for _, v in items][::-1]
        axes.barh(stages, counts, color=_PALETTE[1])
        axes.set_xlabel("breaches")
        axes.set_title("SLA breaches by stage")

    return _svg("breaches", draw, height=max(2.0, 0.45 * len(report.sla_breaches_by_stage) + 1.2))


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1e272e;
       margin: 0 auto; padding: 24px; max-width: 1180px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.sub { color: #57606f; margin-bottom: 18px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 10px; }
.card { border: 1px solid #dfe4ea; border-radius: 8px; padding: 10px 12px; }
.card .label { color: #57606f; font-size: 12px; } .card .value { font-size: 15px; font-weight: 600; }
.card.bad .value { color: #c0392b; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 12px;
          margin-top: 18px; }
.chart { border: 1px solid #dfe4ea; border-radius: 8px; padding: 6px; }
.chart svg { width: 100%; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef1f4; vertical-align: top; }
th { color: #57606f; font-weight: 600; font-size: 12px; }
.none { color: #57606f; }
"""


def render_html(report: WeeklyReport) -> str:
    """The report as one self-contained page: no script, no request, charts inline."""
    esc = html.escape
    bad = {
        "Runs not in their expected state": bool(report.not_in_expected_state),
        "SLA breaches": bool(report.sla_breaches),
        "Unowned steps (must be 0)": bool(report.unowned_steps),
    }
    cards = "".join(
        f'<div class="card{" bad" if bad.get(label) else ""}"><div class="label">{esc(label)}'
        f'</div><div class="value">{esc(value)}</div></div>'
        for label, value in headline(report)
    )
    charts = "".join(
        f'<div class="chart">{svg}</div>'
        for svg in (lead_time_chart(report), exceptions_chart(report), breaches_chart(report))
    )
    sections = []
    for title, headers, rows in _sections(report):
        body = _html_table(headers, rows) if rows else '<p class="none">None.</p>'
        sections.append(f"<h2>{esc(title)}</h2>{body}")
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(_title(report))}</title><style>{_CSS}</style></head><body>"
        f"<h1>Onboarding report {esc(report.week)}</h1>"
        f'<div class="sub">{esc(_title(report))}. From the audit ledger.</div>'
        f'<div class="cards">{cards}</div><div class="charts">{charts}</div>'
        f"{''.join(sections)}</body></html>\n"
    )


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(h.capitalize())}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
