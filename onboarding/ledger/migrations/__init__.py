"""Alembic migrations of the ledger's schema; run by :func:`onboarding.ledger.store.upgrade`."""
