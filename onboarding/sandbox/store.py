"""SQLite persistence for the sandbox.

Every resource kind lives in its own table holding one JSON document per row. The
sandbox keeps a few dozen records at most, so lookups filter in Python; what matters
here is durability (WAL, state survives restarts) and serialised access (one lock).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Every table the sandbox keeps, grouped by vendor.
KINDS: tuple[str, ...] = (
    "hubspot_companies",
    "hubspot_contacts",
    "hubspot_associations",
    "hubspot_deals",
    "hubspot_deal_associations",
    "asana_workspaces",
    "asana_teams",
    "asana_users",
    "asana_project_templates",
    "asana_projects",
    "asana_tasks",
    "asana_jobs",
    "zendesk_organizations",
    "zendesk_users",
    "resend_emails",
    "resend_idempotency",
    "calendly_scheduling_links",
    "slack_messages",
)

Record = dict[str, Any]


class Store:
    """A small thread-safe document store on top of SQLite.

    Args:
        path: The database file. Its parent directory is created when missing;
            ``":memory:"`` gives a throw-away store.
    """

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        with self.atomic():
            for kind in KINDS:
                self._conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {kind} (id TEXT PRIMARY KEY, data TEXT NOT NULL)"
                )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )

    @staticmethod
    def _check(kind: str) -> str:
        if kind not in KINDS:
            raise KeyError(f"unknown record kind: {kind}")
        return kind

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Hold the store lock and run the block in one SQLite transaction.

        Nested uses join the outer transaction. An exception rolls everything back.

        Yields:
            Nothing; the block runs with exclusive access to the store.
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    def get(self, kind: str, record_id: str) -> Record | None:
        """Return one record, or ``None`` when it does not exist.

        Args:
            kind: The table, one of :data:`KINDS`.
            record_id: The record's primary key.

        Returns:
            The stored JSON document.
        """
        with self._lock:
            row = self._conn.execute(
                f"SELECT data FROM {self._check(kind)} WHERE id = ?", (record_id,)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def put(self, kind: str, record_id: str, data: Record) -> Record:
        """Insert or replace a record (insertion order is kept on replace).

        Args:
            kind: The table, one of :data:`KINDS`.
            record_id: The record's primary key.
            data: The JSON-serialisable document.

        Returns:
            The document as given.
        """
        blob = json.dumps(data, separators=(",", ":"), sort_keys=True)
        with self.atomic():
            self._conn.execute(
                f"INSERT INTO {self._check(kind)} (id, data) VALUES (?, ?) "
                "ON CONFLICT(id) DO UPDATE SET data = excluded.data",
                (record_id, blob),
            )
        return data

    def delete(self, kind: str, record_id: str) -> bool:
        """Remove a record for good.

        Args:
            kind: The table, one of :data:`KINDS`.
            record_id: The record's primary key.

        Returns:
            Whether a row was removed.
        """
        with self.atomic():
            cur = self._conn.execute(f"DELETE FROM {self._check(kind)} WHERE id = ?", (record_id,))
        return cur.rowcount > 0

    def all(self, kind: str) -> list[Record]:
        """Return every record of a kind in insertion order.

        Args:
            kind: The table, one of :data:`KINDS`.

        Returns:
            The stored documents.
        """
        with self._lock:
            rows = self._conn.execute(
                f"SELECT data FROM {self._check(kind)} ORDER BY rowid"
            ).fetchall()
        return [dict(json.loads(row[0])) for row in rows]

    def find(self, kind: str, predicate: Callable[[Record], bool]) -> list[Record]:
        """Return the records of a kind for which ``predicate`` holds.

        Args:
            kind: The table, one of :data:`KINDS`.
            predicate: A test applied to each document.

        Returns:
            The matching documents in insertion order.
        """
        return [record for record in self.all(kind) if predicate(record)]

    def next_id(self, counter: str, start: int) -> int:
        """Hand out the next value of a persistent counter.

        Args:
            counter: The counter's name.
            start: The first value handed out for a fresh counter.

        Returns:
            A value never handed out before for this counter.
        """
        with self.atomic():
            row = self._conn.execute(
                "SELECT value FROM counters WHERE name = ?", (counter,)
            ).fetchone()
            value = start if row is None else int(row[0]) + 1
            self._conn.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (counter, value),
            )
        return value

    def get_meta(self, key: str) -> str | None:
        """Read a metadata value.

        Args:
            key: The metadata key.

        Returns:
            The stored value, or ``None``.
        """
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Write a metadata value.

        Args:
            key: The metadata key.
            value: The value to store.
        """
        with self.atomic():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def wipe(self) -> None:
        """Delete every record, counter and metadata value."""
        with self.atomic():
            for kind in KINDS:
                self._conn.execute(f"DELETE FROM {kind}")
            self._conn.execute("DELETE FROM counters")
            self._conn.execute("DELETE FROM meta")

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()
