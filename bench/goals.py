"""The benchmark's goals and the formatting its tables share: a ratio as ``0.53x``, a figure
or ``n/a``, and the goals table printed at the end of every report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.harness import rounded


def times(value: float | None) -> str:
    """A ratio as the tables print it."""
    return "n/a" if value is None else f"{value:.2f}x"


def num(value: float | None, fmt: str) -> str:
    """A figure as the tables print it."""
    return "n/a" if value is None else format(value, fmt)


@dataclass
class Goal:
    """One line of the goals table: a figure of the onboarding worker against its goal."""

    measure: str
    onboarding: str
    bare: str
    value: float | None
    goal: str
    met: bool | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """The goal as JSON-ready data."""
        return {
            "measure": self.measure,
            "onboarding": self.onboarding,
            "bare": self.bare,
            "value": rounded(self.value, 3),
            "goal": self.goal,
            "met": self.met,
            "note": self.note,
        }


def goals_table(goals: list[Goal]) -> str:
    """The goals as a console table."""
    head = f"{'measure':<46}{'onboarding':>16}{'bare':>18}{'goal':>20}  met"
    lines = ["Goals", "", head, "-" * len(head)]
    for g in goals:
        met = "n/a" if g.met is None else ("yes" if g.met else "NO")
        lines.append(f"{g.measure:<46}{g.onboarding:>16} {g.bare:>17}{g.goal:>20}  {met}")
        if g.note:
            lines.append(f"{'':<4}{g.note}")
    return "\n".join(lines)
