"""The ledger's tables, as SQLAlchemy Core metadata.

The schema itself is created and changed only by the migrations under ``migrations/versions``
(Alembic); these definitions are what the queries are written against, and a test checks that
the migrated database matches them.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: One row per audit entry of a run: immutable once written, chained by hash within the run.
entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("transaction_id", sa.String(200), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.String(320), nullable=False),
    sa.Column("action", sa.String(64), nullable=False, index=True),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)

#: What the report needs about a run that its entries do not say; the latest write wins.
runs = sa.Table(
    "ledger_runs",
    metadata,
    sa.Column("transaction_id", sa.String(200), primary_key=True),
    sa.Column("customer_name", sa.String(500)),
    sa.Column("customer_domain", sa.String(255), index=True),
    sa.Column("tier", sa.String(64)),
    sa.Column("phase", sa.String(64)),
    sa.Column("rules_version", sa.String(64)),
    sa.Column("trigger_system", sa.String(64)),
    sa.Column("trigger_event_type", sa.String(128)),
    sa.Column("trigger_object_id", sa.String(200)),
    sa.Column("first_recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_recorded_at", sa.DateTime(timezone=True), nullable=False),
)

#: Each classified vendor failure an activity attempt met: the API health of the report.
vendor_failures = sa.Table(
    "ledger_vendor_failures",
    metadata,
    sa.Column("workflow_id", sa.String(200), primary_key=True),
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("activity_id", sa.String(200), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("activity_type", sa.String(200), nullable=False),
    sa.Column("system", sa.String(64), nullable=False),
    sa.Column("error_type", sa.String(64), nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("retry_after_seconds", sa.Float),
    sa.Column("retry_delay_seconds", sa.Float),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)
