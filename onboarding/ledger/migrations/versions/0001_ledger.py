"""The ledger: entries chained by hash per run, run facts, vendor failures.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("transaction_id", sa.String(200), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ledger_entries_at", "ledger_entries", ["at"])
    op.create_index("ix_ledger_entries_action", "ledger_entries", ["action"])
    op.create_table(
        "ledger_runs",
        sa.Column("transaction_id", sa.String(200), primary_key=True),
        sa.Column("customer_name", sa.String(500)),
        sa.Column("customer_domain", sa.String(255)),
        sa.Column("tier", sa.String(64)),
        sa.Column("phase", sa.String(64)),
        sa.Column("rules_version", sa.String(64)),
        sa.Column("trigger_system", sa.String(64)),
        sa.Column("trigger_event_type", sa.String(128)),
        sa.Column("trigger_object_id", sa.String(200)),
        sa.Column("first_recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ledger_runs_customer_domain", "ledger_runs", ["customer_domain"])
    op.create_table(
        "ledger_vendor_failures",
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
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ledger_vendor_failures_at", "ledger_vendor_failures", ["at"])


def downgrade() -> None:
    op.drop_table("ledger_vendor_failures")
    op.drop_table("ledger_runs")
    op.drop_table("ledger_entries")
