"""Alembic's environment: migrate the connection the ledger hands over.

To add a migration, add a file under ``versions/`` whose ``down_revision`` is the newest one,
and change ``onboarding/ledger/tables.py`` to match (a test compares the two).
"""

from __future__ import annotations

from alembic import context

from onboarding.ledger.tables import metadata

connection = context.config.attributes["connection"]
if connection.dialect.name == "postgresql":
    # Several workers may start at once: one migrates, the others wait and find it done.
    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7413307102)")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
