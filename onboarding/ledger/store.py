"""The ledger database: SQLite by default, PostgreSQL by URL, schema by Alembic migrations.

Writes are idempotent: an entry's key is its transaction and its position in the run's trail, so
a retried write never doubles a row, and rows are never updated once written.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from onboarding.domain.audit import AuditEntry
from onboarding.domain.run import RunStatus
from onboarding.ledger import tables
from onboarding.ledger.chain import GENESIS, canonical_time, chained_row
from onboarding.ledger.models import AppendResult, LedgerRun, RunFacts, VendorFailureRecord

#: Where the ledger lives unless ``ONBOARDING_LEDGER_URL`` says otherwise (beside the demo's
#: other state, relative to where the process starts).
DEFAULT_LEDGER_FILE = Path("var") / "ledger.sqlite3"
LEDGER_URL_ENV = "ONBOARDING_LEDGER_URL"

#: Entries that end a run.
TERMINAL_ACTIONS = ("live", "cancelled", "failed")

# The statements of every append, built once (SQLAlchemy caches their compiled form, but
# building a statement costs as much as running it on SQLite).
_e = tables.entries
#: A run's entries from a position on (the one before a batch, and any of the batch).
_HELD_FROM = (
    sa.select(_e.c.seq, _e.c.hash)
    .where(_e.c.transaction_id == sa.bindparam("transaction_id"), _e.c.seq >= sa.bindparam("low"))
    .order_by(_e.c.seq)
)
#: The last position a run's trail holds.
_LAST_SEQ = sa.select(sa.func.coalesce(sa.func.max(_e.c.seq), 0)).where(
    _e.c.transaction_id == sa.bindparam("transaction_id")
)


class LedgerGap(ValueError):
    """A write that would leave a hole in a run's trail (an entry after a missing one)."""


def ledger_url(env: Mapping[str, str] | None = None) -> str:
    """The ledger's database URL: ``ONBOARDING_LEDGER_URL`` or the SQLite file under ``var/``."""
    env = os.environ if env is None else env
    return env.get(LEDGER_URL_ENV) or f"sqlite:///{DEFAULT_LEDGER_FILE}"


def engine_url(url: str) -> sa.URL:
    """A SQLAlchemy URL; plain ``postgresql://`` URLs use psycopg 3."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _create_engine(url: str) -> Engine:
    parsed = engine_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": 30})

    # SQLite: write-ahead log (readers never wait for the writer), and BEGIN IMMEDIATE so two
    # workers appending at once queue for the write lock instead of failing to upgrade a read
    # lock. pysqlite's own transaction handling is turned off for that (SQLAlchemy's recipe).
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def upgrade(connection: Connection) -> None:
    """Bring the ledger's schema to the newest migration (nothing when it is there already)."""
    from alembic import command
    from alembic.config import Config

    with as_file(files("onboarding.ledger") / "migrations") as location:
        config = Config()
        config.set_main_option("script_location", str(location))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything the ledger stores is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Ledger:
    """One ledger database, shared by every activity of a worker process (thread-safe).

    The schema is migrated on first use. Args:
        url: A SQLAlchemy URL (``sqlite:///var/ledger.sqlite3``, ``postgresql://...``).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self._ready = False
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Ledger:
        """The ledger ``ONBOARDING_LEDGER_URL`` names, else the SQLite file under ``var/``."""
        return cls(ledger_url(env))

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def ensure_schema(self) -> None:
        """Migrate the database once per process."""
        if self._ready:
            return
        with self._lock:
            if not self._ready:
                database = self.engine.url.database
                if self.engine.url.get_backend_name() == "sqlite" and database not in (
                    None,
                    "",
                    ":memory:",
                ):
                    Path(database).parent.mkdir(parents=True, exist_ok=True)
                with self.engine.begin() as connection:
                    upgrade(connection)
                self._ready = True

    # ------------------------------------------------------------------ writes

    def append(
        self,
        transaction_id: str,
        facts: RunFacts,
        entries: Sequence[tuple[int, AuditEntry]],
        *,
        now: datetime | None = None,
    ) -> AppendResult:
        """Write a batch of one run's entries, each at its position, chained by hash.

        Positions already held with the same content are skipped (a retried write); held with
        other content, they are kept as they are and reported in ``conflicts``.

        Raises:
            LedgerGap: the batch starts after a position the ledger does not hold yet.
        """
        self.ensure_schema()
        now = now or datetime.now(UTC)
        batch: dict[int, AuditEntry] = {}
        for seq, entry in entries:
            if seq < 1:
                raise ValueError(f"{transaction_id}: entry positions start at 1, not {seq}")
            batch[seq] = entry
        for attempt in range(3):
            try:
                with self.engine.begin() as connection:
                    return self._append(connection, transaction_id, facts, batch, now)
            except IntegrityError:
                # Another write of the same run (an earlier attempt still running) won the race
                # for a position: read what it wrote and compare, on a fresh transaction.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _append(
        self,
        connection: Connection,
        transaction_id: str,
        facts: RunFacts,
        batch: dict[int, AuditEntry],
        now: datetime,
    ) -> AppendResult:
        result = AppendResult()
        held: dict[int, str] = {}
        if batch:
            # The entry before the batch and any of the batch already held: one read.
            rows = connection.execute(
                _HELD_FROM, {"transaction_id": transaction_id, "low": min(batch) - 1}
            )
            held = {int(seq): str(h) for seq, h in rows}
        last_seq = max(held, default=0)
        first_at: datetime | None = None
        inserts: list[dict[str, Any]] = []
        for seq in sorted(batch):
            entry = batch[seq]
            first_at = first_at or entry.at
            prev_hash = GENESIS if seq == 1 else held.get(seq - 1)
            if prev_hash is None:
                last_seq = int(
                    connection.execute(_LAST_SEQ, {"transaction_id": transaction_id}).scalar_one()
                )
                raise LedgerGap(
                    f"{transaction_id}: entry #{seq} cannot follow #{last_seq}: "
                    f"send the entries from #{last_seq + 1} on"
                )
            row = chained_row(transaction_id, seq, entry, prev_hash)
            if seq in held:
                if held[seq] == row["hash"]:
                    result.already_there += 1
                else:
                    result.conflicts.append(seq)
                continue
            inserts.append(
                {
                    "transaction_id": transaction_id,
                    "seq": seq,
                    "at": _utc(entry.at),
                    "actor": row["actor"],
                    "action": row["action"],
                    "stage": row["stage"],
                    "detail": row["detail"],
                    "data": row["data"],
                    "prev_hash": prev_hash,
                    "hash": row["hash"],
                    "recorded_at": now,
                }
            )
            held[seq] = row["hash"]
            last_seq = max(last_seq, seq)
        if inserts:
            connection.execute(tables.entries.insert(), inserts)  # one executemany
            result.written = len(inserts)
        self._upsert_run(connection, transaction_id, facts, first_at or now, now)
        result.last_seq = last_seq
        return result

    def _upsert_run(
        self,
        connection: Connection,
        transaction_id: str,
        facts: RunFacts,
        first_at: datetime,
        now: datetime,
    ) -> None:
        r = tables.runs
        known = {k: v for k, v in facts.model_dump().items() if v is not None}
        updated = connection.execute(
            r.update()
            .where(r.c.transaction_id == transaction_id)
            .values(**known, last_recorded_at=now)
        ).rowcount
        if not updated:
            connection.execute(
                r.insert().values(
                    transaction_id=transaction_id,
                    **known,
                    first_recorded_at=_utc(first_at),
                    last_recorded_at=now,
                )
            )

    def record_vendor_failure(self, record: VendorFailureRecord) -> bool:
        """Keep one vendor failure; False when this attempt's failure is already kept."""
        self.ensure_schema()
        values = record.model_dump()
        values["at"] = _utc(record.at)
        try:
            with self.engine.begin() as connection:
                connection.execute(tables.vendor_failures.insert().values(**values))
        except IntegrityError:
            return False
        return True

    # ------------------------------------------------------------------ reads

    def rows(
        self,
        *,
        transaction_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Entries in their exported form (hashes included), by run, in trail order."""
        self.ensure_schema()
        e = tables.entries
        query = sa.select(e).order_by(e.c.transaction_id, e.c.seq)
        if transaction_id is not None:
            query = query.where(e.c.transaction_id == transaction_id)
        if since is not None:
            query = query.where(e.c.at >= _utc(since))
        if until is not None:
            query = query.where(e.c.at < _utc(until))
        with self.engine.connect() as connection:
            for row in connection.execute(query).mappings():
                yield self._exported(row)

    def trail(self, transaction_id: str) -> list[AuditEntry]:
        """A run's audit trail as the ledger holds it, in order."""
        return [
            AuditEntry(
                at=datetime.fromisoformat(row["at"]),
                actor=row["actor"],
                action=row["action"],
                stage=row["stage"],
                detail=row["detail"],
                data=row["data"],
            )
            for row in self.rows(transaction_id=transaction_id)
        ]

    def with_trail(self, status: RunStatus) -> RunStatus:
        """``status`` with its whole audit trail: the entries the ledger holds, then those the
        run has not written yet."""
        if not status.audit_written:
            return status
        written = self.trail(status.transaction_id)[: status.audit_written]
        return status.model_copy(update={"audit": [*written, *status.audit]})

    def rows_for_report(self, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Every entry before ``until`` of the runs a report from ``since`` to ``until`` looks
        at: those with an entry in that window, and those not ended before it (still open)."""
        self.ensure_schema()
        e = tables.entries
        ended = (
            sa.select(e.c.transaction_id)
            .where(e.c.action.in_(TERMINAL_ACTIONS), e.c.at < _utc(since))
            .scalar_subquery()
        )
        wanted = sa.union(
            sa.select(e.c.transaction_id).where(e.c.at >= _utc(since), e.c.at < _utc(until)),
            sa.select(e.c.transaction_id).where(
                e.c.at < _utc(until), e.c.transaction_id.not_in(ended)
            ),
        )
        query = (
            sa.select(e)
            .where(e.c.at < _utc(until), e.c.transaction_id.in_(wanted))
            .order_by(e.c.transaction_id, e.c.seq)
        )
        with self.engine.connect() as connection:
            return [self._exported(row) for row in connection.execute(query).mappings()]

    @staticmethod
    def _exported(row: sa.RowMapping) -> dict[str, Any]:
        return {
            "transaction_id": row["transaction_id"],
            "seq": int(row["seq"]),
            "at": canonical_time(_utc(row["at"])),
            "actor": row["actor"],
            "action": row["action"],
            "stage": row["stage"],
            "detail": row["detail"],
            "data": dict(row["data"] or {}),
            "prev_hash": row["prev_hash"],
            "hash": row["hash"],
        }

    def runs(self) -> dict[str, LedgerRun]:
        """Every run the ledger knows, by transaction."""
        self.ensure_schema()
        r = tables.runs
        fields = [name for name in RunFacts.model_fields]
        with self.engine.connect() as connection:
            return {
                row["transaction_id"]: LedgerRun(
                    transaction_id=row["transaction_id"], **{f: row[f] for f in fields}
                )
                for row in connection.execute(sa.select(r)).mappings()
            }

    def vendor_failures(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[VendorFailureRecord]:
        """Vendor failures recorded in a time window, oldest first."""
        self.ensure_schema()
        v = tables.vendor_failures
        query = sa.select(v).order_by(v.c.at)
        if since is not None:
            query = query.where(v.c.at >= _utc(since))
        if until is not None:
            query = query.where(v.c.at < _utc(until))
        with self.engine.connect() as connection:
            return [
                VendorFailureRecord.model_validate({**row, "at": _utc(row["at"])})
                for row in connection.execute(query).mappings()
            ]
