"""Several replicas behind one Slack app: a message rendered by one `serve` is clicked on another,
and a double click that reaches both runs once. Each replica is deploybot's real HTTP server
with its own runtime and state connection; the cluster is kube-local; Slack is the local server."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.slack.serve import make_runtime
from tests.conftest import REPO, run_cli
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.slack_harness import (
    BOT_TOKEN,
    SIGNING_SECRET,
    click_body,
    command_body,
    post,
    serve_runtime,
    signed_headers,
)
from tests.test_slack_app import OPERATOR, SlackWorld, buttons

_responses = itertools.count(1000)


@pytest.fixture(scope="module")
def world(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlackWorld]:
    """The Slack app tests' world (cluster objects, local Slack); the replicas here come on top."""
    kubeconfig_or_skip(BOT_KUBECONFIG_VAR)
    shared = SlackWorld(cluster, tmp_path_factory.mktemp("replicas"))
    yield shared
    shared.slow_server.shutdown()
    shared.loop.stop()


class Replica:
    def __init__(self, world: SlackWorld, settings: Settings) -> None:
        self.world = world
        self.runtime = make_runtime(settings, world.runtime.config, bot_token=BOT_TOKEN)
        self.runtime.settle_seconds = 1.0

        self.url = serve_runtime(world.loop, world.fake, self.runtime)

    def _response_url(self) -> tuple[str, str]:
        n = next(_responses)
        return f"{self.world.fake.url}/response/{n}", f"response/{n}"

    def command(self, text: str) -> dict[str, Any]:
        """An inspection: posted to the command's channel."""
        url, _ = self._response_url()
        posts = len(self.world.fake.named("chat.postMessage"))
        body = command_body(text, user=OPERATOR, response_url=url)
        assert post(self.url + "/slack/events", body, signed_headers(body)).status == 200
        message: dict[str, Any] = self.world.fake.wait_for("chat.postMessage", posts + 1)[posts]
        return message

    def click(self, value: str, action_id: str) -> str:
        url, method = self._response_url()
        body = click_body(user=OPERATOR, action_id=action_id, value=value, response_url=url)
        assert post(self.url + "/slack/events", body, signed_headers(body)).status == 200
        return method


def _settings(tmp: Path, name: str, database_url: str | None = None) -> Settings:
    settings = Settings(knowledge_dir=REPO / "knowledge", data_dir=tmp / name)
    return replace(settings, database_url=database_url, button_key="chart-secret-key")


def _generation(world: SlackWorld) -> int:
    return int(world.web()["metadata"]["generation"])


def test_a_message_rendered_by_one_replica_is_clicked_on_another(world: SlackWorld, tmp_path: Path) -> None:
    """Separate SQLite files, nothing shared but the signing key: the button carries its meaning."""
    one, two = Replica(world, _settings(tmp_path, "one")), Replica(world, _settings(tmp_path, "two"))
    message = one.command("inspect shop-prod")
    value = buttons(message)["deploybot:act:restart"]["value"]
    before = _generation(world)
    method = two.click(value, "deploybot:act:restart")
    updated = world.fake.wait_for(method)[0]
    assert f"<@{OPERATOR}> restart Deployment/shop-web" in json.dumps(updated)
    assert _generation(world) == before + 1
    [row] = [r for r in two.runtime.action_store.recent("shop-prod") if r.outcome == "done"]
    assert row.via == "slack" and row.actor == OPERATOR


def test_a_restarted_replica_still_knows_its_buttons(world: SlackWorld, tmp_path: Path) -> None:
    settings = _settings(tmp_path, "restarted")
    first = Replica(world, settings)
    value = buttons(first.command("inspect shop-prod"))["deploybot:act:restart"]["value"]
    first.runtime.close()
    after_restart = Replica(world, settings)  # a new process: nothing in memory survives
    method = after_restart.click(value, "deploybot:act:restart")
    assert "restart Deployment/shop-web" in json.dumps(world.fake.wait_for(method)[0])


def test_an_edited_button_value_is_refused_by_any_replica(world: SlackWorld, tmp_path: Path) -> None:
    one = Replica(world, _settings(tmp_path, "edit"))
    value = buttons(one.command("inspect shop-prod"))["deploybot:act:restart"]["value"]
    before = world.web()["metadata"]["resourceVersion"]
    ephemerals = len(world.fake.named("chat.postEphemeral"))
    forged = value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")
    one.click(forged, "deploybot:act:restart")
    refusal = world.fake.wait_for("chat.postEphemeral", ephemerals + 1)[-1]
    assert "does not verify" in refusal["text"]
    assert world.web()["metadata"]["resourceVersion"] == before


def test_a_double_click_across_two_replicas_on_postgres_runs_once(
    world: SlackWorld, tmp_path: Path, postgres_url: str
) -> None:
    one = Replica(world, _settings(tmp_path, "pg-one", postgres_url))
    two = Replica(world, _settings(tmp_path, "pg-two", postgres_url))
    value = buttons(one.command("inspect shop-prod"))["deploybot:act:restart"]["value"]
    before = _generation(world)
    ephemerals = len(world.fake.named("chat.postEphemeral"))
    methods: list[str] = []
    threads = [
        threading.Thread(target=lambda r=r: methods.append(r.click(value, "deploybot:act:restart")))
        for r in (one, two)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refusal = world.fake.wait_for("chat.postEphemeral", ephemerals + 1)[-1]
    assert "already" in refusal["text"] and OPERATOR in refusal["text"]
    assert _generation(world) == before + 1  # one restart, whichever replica won
    rows = one.runtime.action_store.recent("shop-prod")
    restarts = [r for r in rows if r.action == "restart"]
    assert sorted(r.outcome for r in restarts) == ["done", "refused"]  # both clicks are on record
    assert two.runtime.action_store.recent("shop-prod") == rows  # the same trail, seen from either


def test_two_serve_processes_on_one_postgres_run_a_double_click_once(
    world: SlackWorld, tmp_path: Path, postgres_url: str
) -> None:
    """As deployed: two `deploybot serve` processes (HTTP mode) behind one Slack app, sharing only
    the PostgreSQL state and the chart's button key."""
    from tests.socket_mode_server import ServeProcess

    kubeconfig = world.runtime.config.environments["shop-prod"].kubeconfig
    config = (
        "environments:\n"
        f"  shop-prod: {{namespace: {world.ns}, protected: true, operators: [{OPERATOR}],"
        f" kubeconfig: {kubeconfig}}}\n"
    )
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": world.fake.url + "/api/",
        "DEPLOYBOT_DATABASE_URL": postgres_url,
        "DEPLOYBOT_BUTTON_KEY": "chart-secret-key",
    }
    pods = [ServeProcess.start(tmp_path / name, env, config) for name in ("pod-a", "pod-b")]
    try:
        for pod in pods:
            pod.wait_ready()
        posts = len(world.fake.named("chat.postMessage"))
        body = command_body(
            "inspect shop-prod", user=OPERATOR, response_url=world.fake.url + "/response/9000"
        )
        assert post(f"http://127.0.0.1:{pods[0].port}/slack/events", body, signed_headers(body)).status == 200
        message = world.fake.wait_for("chat.postMessage", posts + 1)[posts]
        value = buttons(message)["deploybot:act:restart"]["value"]
        before = _generation(world)
        ephemerals = len(world.fake.named("chat.postEphemeral"))

        def press(pod: ServeProcess, n: int) -> None:
            url = f"{world.fake.url}/response/{9100 + n}"
            click = click_body(
                user=OPERATOR, action_id="deploybot:act:restart", value=value, response_url=url
            )
            assert (
                post(f"http://127.0.0.1:{pod.port}/slack/events", click, signed_headers(click)).status == 200
            )

        threads = [threading.Thread(target=press, args=(pod, n)) for n, pod in enumerate(pods)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        refusal = world.fake.wait_for("chat.postEphemeral", ephemerals + 1)[-1]
        assert "already" in refusal["text"]
        assert _generation(world) == before + 1
        audit = run_cli("audit", "shop-prod", "--json", env={"DEPLOYBOT_DATABASE_URL": postgres_url})
        rows = [json.loads(line) for line in audit.stdout.splitlines()]
        assert sorted(r["outcome"] for r in rows if r["action"] == "restart") == ["done", "refused"]
    finally:
        for pod in pods:
            pod.process.terminate()
            pod.wait_exit(30)
