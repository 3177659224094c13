"""Tamper evidence: each ledger row carries the hash of the previous row of its run.

A row's hash is the SHA-256 of its canonical JSON form (sorted keys, no spaces, UTF-8), which
includes the previous row's hash; the first row of a run chains from :data:`GENESIS`. Editing,
removing or inserting a row therefore breaks the chain at that row or the next one, and
:func:`verify_lines` finds it offline, from an export alone.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from onboarding.domain.audit import AuditEntry

#: The ``prev_hash`` of the first row of every run.
GENESIS = "0" * 64

#: The fields of an exported row that its hash covers (everything but ``hash``).
HASHED_FIELDS = (
    "transaction_id",
    "seq",
    "at",
    "actor",
    "action",
    "stage",
    "detail",
    "data",
    "prev_hash",
)


def canonical_time(at: datetime) -> str:
    """The one text form of an entry's time: UTC, microseconds (naive times are UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def row_hash(row: dict[str, Any]) -> str:
    """The hash of one row, from the fields in :data:`HASHED_FIELDS`."""
    body = {name: row[name] for name in HASHED_FIELDS}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chained_row(transaction_id: str, seq: int, entry: AuditEntry, prev_hash: str) -> dict[str, Any]:
    """The exported form of one entry, its hash included."""
    row: dict[str, Any] = {
        "transaction_id": transaction_id,
        "seq": seq,
        "at": canonical_time(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "stage": entry.stage.value,
        "detail": entry.detail,
        "data": {str(k): str(v) for k, v in entry.data.items()},
        "prev_hash": prev_hash,
    }
    row["hash"] = row_hash(row)
    return row


@dataclass(frozen=True)
class BrokenRow:
    """The first row where the chain does not hold."""

    line: int
    transaction_id: str | None
    seq: int | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}"
        if self.transaction_id is not None:
            where += f" ({self.transaction_id} #{self.seq})"
        return f"{where}: {self.reason}"


@dataclass
class Verification:
    """What :func:`verify_lines` found."""

    rows: int = 0
    runs: int = 0
    broken: BrokenRow | None = None
    #: Runs whose export starts after their first row (``--since``): chained from that row on.
    partial_runs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every row and every link of the chain holds."""
        return self.broken is None


def verify_lines(lines: Iterable[str]) -> Verification:
    """Check an export (JSON Lines, rows of each run in ``seq`` order) and name the first
    broken row: one whose content does not match its hash, or whose ``prev_hash`` is not the
    hash of the row before it in its run (a row changed, removed or inserted)."""
    result = Verification()
    last: dict[str, tuple[int, str]] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError as exc:
            result.broken = BrokenRow(number, None, None, f"not JSON ({exc})")
            return result
        missing = [f for f in (*HASHED_FIELDS, "hash") if not isinstance(row, dict) or f not in row]
        if missing:
            result.broken = BrokenRow(number, None, None, f"missing field(s) {missing}")
            return result
        tx, seq = str(row["transaction_id"]), row["seq"]
        result.rows += 1
        if row_hash(row) != row["hash"]:
            result.broken = BrokenRow(
                number, tx, seq, "its content does not match its hash (the row was edited)"
            )
            return result
        if tx in last:
            prev_seq, prev_hash = last[tx]
            if seq != prev_seq + 1:
                result.broken = BrokenRow(
                    number,
                    tx,
                    seq,
                    f"follows #{prev_seq} of its run: row(s) missing or out of order",
                )
                return result
            if row["prev_hash"] != prev_hash:
                result.broken = BrokenRow(
                    number,
                    tx,
                    seq,
                    f"prev_hash is not the hash of #{prev_seq} (a row before it was changed)",
                )
                return result
        else:
            result.runs += 1
            if seq == 1 and row["prev_hash"] != GENESIS:
                result.broken = BrokenRow(
                    number, tx, seq, "the first row of a run must chain from 0"
                )
                return result
            if seq != 1:
                result.partial_runs.append(tx)
        last[tx] = (seq, row["hash"])
    return result
