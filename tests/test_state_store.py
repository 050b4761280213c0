"""The state stores on both backends (real SQLite files, a real PostgreSQL server): migrations,
idempotency claims under races, audit, feedback, thread contexts, and one-line errors."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.adapters.action_store import ActionStore
from bot.adapters.slack_store import SlackStore
from bot.adapters.state_db import MIGRATIONS, StateDB
from bot.errors import StateError
from tests.conftest import run_cli

LATEST = MIGRATIONS[-1][0]


def test_a_new_database_is_migrated_once(state_location: str) -> None:
    db = StateDB.open(state_location)
    assert db.version() == LATEST
    assert db.migrate() == []  # a second open applies nothing
    again = StateDB.open(state_location)
    assert again.version() == LATEST
    db.close()
    again.close()


def test_a_pre_migration_sqlite_file_is_adopted_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "deploybot.sqlite"
    with sqlite3.connect(path) as conn:  # the schema as released before migrations existed
        conn.executescript(
            "create table audit (id integer primary key autoincrement, at real not null, actor text not null,"
            " environment text not null, action text not null, target text not null, params text not null,"
            " outcome text not null, message text not null, key text);"
            "insert into audit (at, actor, environment, action, target, params, outcome, message, key)"
            " values (1.0, 'U1', 'shop-prod', 'restart', 'Deployment/web', '{}', 'done', 'old row', 'k1');"
        )
    store = ActionStore(path)
    rows = store.recent()
    assert [(r.actor, r.message, r.os_user) for r in rows] == [("U1", "old row", None)]
    store.audit(
        actor="U2", environment="shop-prod", action="scale", target="Deployment/web", params={},
        outcome="refused", message="new row", key=None,
    )  # fmt: skip
    assert [r.message for r in store.recent()] == ["new row", "old row"]
    assert store.db.version() == LATEST
    store.close()


def test_claims_are_won_once_and_reclaimable_after_failure(state_location: str) -> None:
    store = ActionStore(state_location)
    target = {"environment": "shop-prod", "action": "restart", "target": "Deployment/web"}
    assert store.claim("k1", actor="U1", **target).won
    second = store.claim("k1", actor="U2", **target)
    assert (second.won, second.actor, second.state) == (False, "U1", "running")
    store.finish("k1", state="failed", message="403")
    assert store.holder("k1") is None
    assert store.claim("k1", actor="U2", **target).won  # a failed attempt does not block a retry
    store.finish("k1", state="done", message="U2 did: restart")
    held = store.holder("k1")
    assert held is not None and (held.actor, held.state, held.message) == ("U2", "done", "U2 did: restart")
    assert not store.claim("k1", actor="U3", **target).won
    store.close()


def test_concurrent_claims_have_exactly_one_winner(state_location: str) -> None:
    """Eight threads, eight connections, one key: the database, not the code, picks the winner."""
    stores = [ActionStore(state_location) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    results: list[bool] = []

    def press(store: ActionStore, who: int) -> None:
        barrier.wait()
        claim = store.claim("double", environment="e", action="scale", target="t", actor=f"U{who}")
        results.append(claim.won)

    threads = [threading.Thread(target=press, args=(s, i)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
    for s in stores:
        s.close()


def test_audit_rows_say_who_typed_and_through_what(state_location: str) -> None:
    store = ActionStore(state_location, via="cli", os_user="alice")
    for env in ("shop-prod", "shop-staging"):
        store.audit(
            actor="U1", environment=env, action="scale", target="Deployment/web", params={"replicas": "0"},
            outcome="done", message=f"scaled {env}", key="k",
        )  # fmt: skip
    rows = store.recent("shop-prod")
    assert len(rows) == 1
    row = rows[0]
    assert (row.environment, row.os_user, row.via, dict(row.params)) == (
        "shop-prod", "alice", "cli", {"replicas": "0"},
    )  # fmt: skip
    assert [r.environment for r in store.recent()] == ["shop-staging", "shop-prod"]
    store.close()


def test_feedback_summary_puts_what_needs_work_first(state_location: str) -> None:
    store = SlackStore(state_location)
    store.record_feedback(user="U1", question="q good", entry_id="e1", confident=True, vote="up")
    store.record_feedback(user="U2", question="q good", entry_id="e1", confident=True, vote="up")
    store.record_feedback(user="U1", question="q bad", entry_id="e2", confident=True, vote="down")
    store.record_feedback(user="U1", question="q unknown", entry_id="", confident=False, vote="unanswered")
    rows = store.feedback_summary()
    assert {r.question for r in rows[:2]} == {"q bad", "q unknown"}
    good = next(r for r in rows if r.question == "q good")
    assert (good.votes_up, good.votes_down, good.confident) == (2, 0, True)
    store.close()


def test_thread_contexts_are_shared_and_overwritten(state_location: str) -> None:
    one, two = SlackStore(state_location), SlackStore(state_location)  # two replicas
    one.remember_thread("1700000000.000100", "shop-prod")
    assert two.thread_environment("1700000000.000100") == "shop-prod"
    two.remember_thread("1700000000.000100", "shop-staging")
    assert one.thread_environment("1700000000.000100") == "shop-staging"
    assert one.thread_environment("1700000000.999999") is None
    one.close()
    two.close()


def test_an_expired_thread_context_no_longer_steers(tmp_path: Path) -> None:
    store = SlackStore(tmp_path / "s.sqlite")
    store.remember_thread("1.1", "shop-prod")
    with store.db.begin() as conn:
        conn.execute(sa.text("update thread_contexts set updated_at = 0"))
    assert store.thread_environment("1.1") is None
    store.close()


def test_a_corrupt_sqlite_file_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "deploybot.sqlite"
    path.write_bytes(b"this is not a database, just some bytes " * 100)
    with pytest.raises(StateError) as caught:
        ActionStore(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "not a database" in message


def test_an_unwritable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the data folder should be")
    with pytest.raises(StateError) as caught:
        ActionStore(blocker / "data" / "deploybot.sqlite")
    assert "cannot create its folder" in str(caught.value) and "\n" not in str(caught.value)


def test_an_unreachable_postgres_is_one_clear_line_without_the_password() -> None:
    with pytest.raises(StateError) as caught:
        StateDB.open("postgresql://bot:s3cret-pass@127.0.0.1:1/deploybot?connect_timeout=2")
    message = str(caught.value)
    assert "\n" not in message and "127.0.0.1" in message and "s3cret-pass" not in message


def test_an_unsupported_database_url_is_refused() -> None:
    with pytest.raises(StateError, match="mysql:// is not supported"):
        StateDB.open("mysql://bot@db/deploybot")


def test_the_cli_reports_a_corrupt_state_file_without_a_traceback(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "deploybot.sqlite").write_bytes(b"garbage" * 200)
    result = run_cli("audit", env={"DEPLOYBOT_DATA_DIR": str(data)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "not a database" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_audit_from_the_cli_on_postgres(postgres_url: str) -> None:
    store = ActionStore(postgres_url, via="slack")
    store.audit(
        actor="U1", environment="shop-prod", action="restart", target="Deployment/web", params={},
        outcome="refused", message="stale", key="k9",
    )  # fmt: skip
    store.close()
    result = run_cli("audit", "--json", env={"DEPLOYBOT_DATABASE_URL": postgres_url})
    assert result.returncode == 0, result.stderr
    assert '"outcome": "refused"' in result.stdout and '"via": "slack"' in result.stdout


def test_audit_lines_cannot_drive_the_terminal(tmp_path: Path) -> None:
    store = ActionStore(tmp_path / "deploybot.sqlite")
    store.audit(
        actor="U1", environment="shop-prod", action="restart", target="Deployment/web", params={},
        outcome="failed", message="API said: \x1b]0;pwned\x07\x1b[31mred\u202e", key=None,
    )  # fmt: skip
    store.close()
    result = run_cli("audit", env={"DEPLOYBOT_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "API said: red" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\u202e" not in result.stdout
