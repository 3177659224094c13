"""The ledger on both engines: a SQLite file, and a real PostgreSQL the suite starts itself.

PostgreSQL comes from the ``pgserver`` wheel (server binaries inside, no network, no system
package); when run as root, pgserver runs the server as its own unprivileged user. Every test
gets a fresh database.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from onboarding.ledger.store import Ledger, engine_url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server for the session; its admin URL."""
    import pgserver

    # Not under pytest's temporary folder: pytest keeps that private to this user (0700),
    # and the server runs as another one when the suite runs as root.
    data = Path(tempfile.mkdtemp(prefix="onboarding-ledger-pg-"))
    server = pgserver.get_server(data, cleanup_mode="stop")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


#: Both engines; the PostgreSQL variants start a server of their own for the session: slow.
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@contextmanager
def fresh_database(engine: str, directory: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a new, empty ledger database on ``engine``, dropped afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{directory / 'ledger.sqlite3'}"
        return
    admin_url = request.getfixturevalue("postgres_url")
    name = f"ledger_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(engine_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    yield engine_url(admin_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=ENGINES)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty ledger database on each engine."""
    with fresh_database(request.param, tmp_path, request) as url:
        yield url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """The ledger on that database."""
    opened = Ledger(ledger_url)
    yield opened
    opened.close()
