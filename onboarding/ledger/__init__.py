"""The audit ledger: every run's trail in a database outside Temporal, so the record outlives
the namespace's retention, and the reports computed from it.

Importing this package imports no database driver: :mod:`onboarding.ledger.models` is what
workflow code may use; :mod:`onboarding.ledger.store` holds the database layer.
"""
