"""The bot's durable state behind one interface: SQLite (embedded default) or PostgreSQL.

SQLAlchemy Core writes the SQL for either dialect, so the stores hold no dialect code of
their own. The schema is brought up to date by numbered migrations, recorded in
`schema_migrations`, when a store opens; several processes opening at once serialize on a
lock (SQLite's write lock, a PostgreSQL advisory lock), so each migration runs once.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from bot.errors import StateError

metadata = sa.MetaData()

action_keys = sa.Table(
    "action_keys",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
)
audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("key", sa.Text),
    sa.Column("os_user", sa.Text),
    sa.Column("via", sa.Text),
    sa.Index("audit_by_environment", "environment", "at"),
)
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("user", sa.Text, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("entry_id", sa.Text, nullable=False),
    sa.Column("confident", sa.Integer, nullable=False),
    sa.Column("vote", sa.Text, nullable=False),
)
thread_contexts = sa.Table(
    "thread_contexts",
    metadata,
    sa.Column("thread_ts", sa.String(64), primary_key=True),
    sa.Column("environment", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("environment", sa.String(200), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)


def _create_tables(conn: Connection) -> None:
    """v1: the tables as first released (a pre-migration SQLite file already has some: adopt them)."""
    for table in (action_keys, feedback, thread_contexts):
        table.create(conn, checkfirst=True)
    if not sa.inspect(conn).has_table("audit"):
        audit.create(conn)


def _audit_origin_columns(conn: Connection) -> None:
    """v2: who ran a CLI action at the OS level beside `--as`, and through which surface."""
    have = {c["name"] for c in sa.inspect(conn).get_columns("audit")}
    for column in ("os_user", "via"):
        if column not in have:
            conn.execute(sa.text(f"alter table audit add column {column} text"))


def _incidents_table(conn: Connection) -> None:
    """v3: on-call incidents (root message ts, what the thread was told), shared by replicas."""
    incidents.create(conn, checkfirst=True)


#: append only: (version, name, step); a step must be safe on a database that predates it
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "create tables", _create_tables),
    (2, "audit os_user and via", _audit_origin_columns),
    (3, "incidents", _incidents_table),
)
_ADVISORY_LOCK = 0x6465706C6F79  # "deploy"


class StateDB:
    """One engine per process; short transactions; errors come out as one-line StateErrors."""

    def __init__(self, engine: Engine, where: str) -> None:
        self.engine = engine
        self.where = where

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @classmethod
    def open(cls, location: str | Path) -> StateDB:
        """`postgresql://…` or a SQLite file path; migrates the schema before returning."""
        text = str(location)
        if text.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
            db = cls(_postgres_engine(text), _redact(text))
        elif text.startswith("sqlite:///"):
            db = cls(_sqlite_engine(Path(text.removeprefix("sqlite:///"))), text)
        elif "://" in text:
            scheme = text.split("://", 1)[0]
            raise StateError(
                f"state database: {scheme}:// is not supported (postgresql://… or a SQLite path)"
            )
        else:
            db = cls(_sqlite_engine(Path(text)), text)
        with db.translate_errors("open"):
            db.migrate()
        return db

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.translate_errors("write"), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def translate_errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sa.exc.DBAPIError as exc:
            raise StateError(f"state database {self.where}: cannot {doing}: {_first_line(exc)}") from None
        except OSError as exc:
            raise StateError(f"state database {self.where}: cannot {doing}: {exc}") from None

    def migrate(self) -> list[int]:
        """Apply what is missing, in order; returns the versions applied now."""
        applied_now: list[int] = []
        with self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("select pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK})
            schema_migrations.create(conn, checkfirst=True)
            done = set(conn.execute(sa.select(schema_migrations.c.version)).scalars())
            for version, name, step in MIGRATIONS:
                if version in done:
                    continue
                step(conn)
                conn.execute(
                    schema_migrations.insert().values(version=version, name=name, applied_at=time.time())
                )
                applied_now.append(version)
        return applied_now

    def version(self) -> int:
        with self.begin() as conn:
            return int(conn.execute(sa.select(sa.func.max(schema_migrations.c.version))).scalar() or 0)

    def upsert(self, table: sa.Table) -> Any:
        """The dialect's INSERT … ON CONFLICT construct (SQLite and PostgreSQL spell it the same)."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_engine(path: Path) -> Engine:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(f"state database {path}: cannot create its folder: {exc.strerror}") from None
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        dbapi_conn.execute("pragma journal_mode=wal")
        dbapi_conn.execute("pragma synchronous=normal")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # take the write lock up front: two writers queue on it instead of failing to upgrade
        conn.exec_driver_sql("begin immediate")

    return engine


def _postgres_engine(url: str) -> Engine:
    driver_url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return sa.create_engine(driver_url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parsed = sa.engine.make_url(url)
    return parsed.render_as_string(hide_password=True)


def _first_line(exc: sa.exc.DBAPIError) -> str:
    original = exc.orig if exc.orig is not None else exc
    return (str(original).strip().splitlines() or [type(original).__name__])[0]
