"""Shipping: the image recipe, the chart's values, doctor, logs and shutdown."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot import logs
from bot.config import Settings
from bot.knowledge_base import KnowledgeBase, build
from bot.slack.serve import drain
from tests.conftest import REPO, run_cli
from tests.kube_cluster import BOT_KUBECONFIG_VAR, Cluster, kubeconfig_or_skip
from tests.slack_harness import LoopThread, start_fake_slack
from tests.test_kube_adapter import fake_kubeconfig

CHART = REPO / "helm" / "deploybot"


# ---------------------------------------------------------------- Dockerfile


def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text(encoding="utf-8")


def final_stage() -> str:
    return dockerfile().split("\nFROM ")[-1]


def test_dockerfile_is_multi_stage_non_root_and_serves() -> None:
    assert len(re.findall(r"^FROM python:3\.11-slim", dockerfile(), re.M)) == 2
    users = re.findall(r"^USER (\S+)", final_stage(), re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert re.search(r'^ENTRYPOINT \["deploybot", "serve"\]', final_stage(), re.M)
    assert "deploybot kb build" in final_stage()  # knowledge base compiled at build time
    assert not re.search(r"gcc|build-essential|apt-get install", final_stage())
    assert re.search(r"^VOLUME \[\"/var/lib/deploybot\"\]", final_stage(), re.M)
    assert (REPO / ".dockerignore").exists()


def test_dockerfile_installs_like_the_readme() -> None:
    readme_install = re.search(r"pip install \.", (REPO / "README.md").read_text(encoding="utf-8"))
    assert readme_install
    assert re.search(r"RUN pip install [^\n]*\s\.$", dockerfile(), re.M)


def test_a_base_compiled_at_build_time_is_used_read_only(tmp_path: Path) -> None:
    image_db = tmp_path / "opt" / "knowledge.sqlite"
    at_build = Settings(REPO / "knowledge", tmp_path / "build-data", knowledge_db_override=image_db)
    _, conn = build(at_build)
    conn.close()
    image_db.chmod(0o444)
    image_db.parent.chmod(0o555)
    try:
        at_run = Settings(REPO / "knowledge", tmp_path / "volume", knowledge_db_override=image_db)
        kb = KnowledgeBase.open(at_run)
        assert kb.search("ImagePullBackOff").confident
        kb.close()
    finally:
        image_db.parent.chmod(0o755)


# ---------------------------------------------------------------- Helm chart


def test_values_validate_against_the_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(values, schema)
    example = {
        **values,
        "environments": {"shop-prod": {"namespace": "shop", "protected": True, "operators": ["U012ABCDEF"]}},
    }
    jsonschema.validate(example, schema)


@pytest.mark.parametrize(
    "database", [{"url": "postgresql://deploybot@db:5432/deploybot"}, {"existingSecret": "deploybot-db"}]
)
def test_several_replicas_with_a_shared_database_pass_the_schema(database: dict[str, str]) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = {**yaml.safe_load((CHART / "values.yaml").read_text()), "replicaCount": 2, "database": database}
    jsonschema.validate(values, schema)


@pytest.mark.parametrize(
    "change",
    [
        {"mode": "ftp"},
        {"rbac": {"readOnly": "yes"}},
        {"environments": {"Shop": {"namespace": "shop"}}},
        {"environments": {"shop": {"namespace": "shop", "operators": ["alice"]}}},
        {"replicas": 2},
        {"replicaCount": 2},  # several replicas need a shared database
        {"replicaCount": 2, "database": {"url": ""}},
        {"replicaCount": 2, "database": {"url": "postgresql://d/b"}, "persistence": {"enabled": True}},
        {"database": {"url": "sqlite:///x"}},
        {"database": {"password": "x"}},
    ],
)
def test_bad_values_are_refused_by_the_schema(change: dict[str, Any]) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = {**yaml.safe_load((CHART / "values.yaml").read_text()), **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(values, schema)


def test_chart_has_every_part_and_the_deployment_is_locked_down() -> None:
    names = {p.name for p in (CHART / "templates").iterdir()}
    assert {
        "deployment.yaml",
        "serviceaccount.yaml",
        "rbac.yaml",
        "secret.yaml",
        "configmap.yaml",
        "service.yaml",
        "pdb.yaml",
        "NOTES.txt",
    } <= names
    deployment = (CHART / "templates" / "deployment.yaml").read_text()
    assert "/healthz" in deployment and "/readyz" in deployment
    # Rendered and installed by real Helm on a real API server in tests/test_chart.py.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert values["podSecurityContext"]["runAsNonRoot"] is True
    rbac = (CHART / "templates" / "_helpers.tpl").read_text()
    assert 'Files.Get "files/rbac-rules.yaml"' in rbac and "readOnly" in rbac


# ---------------------------------------------------------------- doctor


@pytest.fixture(scope="module")
def slack_api() -> Any:
    loop = LoopThread()
    fake, _ = start_fake_slack(loop)
    yield fake
    loop.stop()


def doctor(tmp_path: Path, environments: dict[str, Any], *, token: str, slack_url: str) -> Any:
    config = tmp_path / "deploybot.yaml"
    config.write_text(yaml.safe_dump({"environments": environments}))
    env = {
        "SLACK_BOT_TOKEN": token,
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": slack_url + "/api/",
        "SLACK_APP_TOKEN": "",
        "DEPLOYBOT_DATA_DIR": str(tmp_path / "data"),
        "DEPLOYBOT_KNOWLEDGE_DIR": str(REPO / "knowledge"),
    }
    return run_cli("doctor", "--config", str(config), env=env)


def test_doctor_all_green(cluster: Cluster, tmp_path: Path, slack_api: Any) -> None:
    ns = cluster.namespace()
    done = doctor(
        tmp_path,
        {"shop-prod": {"namespace": ns, "kubeconfig": kubeconfig_or_skip()}},
        token="xoxb-good",
        slack_url=slack_api.url,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✔ slack: bot UBOT in team T1 (HTTP)" in done.stdout
    assert (
        f"✔ environment shop-prod: namespace {ns}" in done.stdout
        and "every permission granted" in done.stdout
    )
    assert "xoxb-good" not in done.stdout + done.stderr


def test_doctor_names_a_broken_token_a_forbidden_namespace_and_an_unreachable_cluster(
    cluster: Cluster, tmp_path: Path, slack_api: Any
) -> None:
    forbidden_ns = cluster.namespace()
    environments = {
        "locked": {"namespace": forbidden_ns, "kubeconfig": kubeconfig_or_skip(BOT_KUBECONFIG_VAR)},
        "gone": {"namespace": "shop", "kubeconfig": fake_kubeconfig(tmp_path, "http://127.0.0.1:9")},
    }
    done = doctor(tmp_path, environments, token="xoxb-broken", slack_url=slack_api.url)
    assert done.returncode == 1
    out = done.stdout
    assert "✖ slack: auth.test refused the bot token: invalid_auth" in out
    assert f"✖ environment locked: namespace {forbidden_ns}" in out and "missing list pods" in out
    assert "✖ environment gone: cannot reach the Kubernetes API at http://127.0.0.1:9" in out
    assert "xoxb-broken" not in out + done.stderr


def test_doctor_without_config_or_token_says_what_is_missing(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "", "DEPLOYBOT_DATA_DIR": str(tmp_path / "data"), "DEPLOYBOT_CONFIG": ""}
    done = run_cli("doctor", "--config", str(tmp_path / "missing.yaml"), env=env)
    assert done.returncode == 1
    assert "✖ config:" in done.stdout and "not found" in done.stdout
    assert "✖ slack: missing environment variable(s): SLACK_BOT_TOKEN" in done.stdout


# ---------------------------------------------------------------- logs and shutdown


def test_logs_are_json_with_request_ids_and_never_tokens(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("json")
    logs.request_id.set("1700000000-abcd1234")
    logging.getLogger("deploybot.test").warning(
        "posting with xoxb-1234-5678-secret and Bearer abcdefghijk123"
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["request_id"] == "1700000000-abcd1234" and entry["level"] == "warning"
    assert "xoxb-1234" not in line and "abcdefghijk123" not in line and "xoxb-***" in line
    logging.getLogger().handlers.clear()


def test_shutdown_waits_for_running_actions() -> None:
    class Busy:
        inflight = 1

    busy = Busy()

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, lambda: setattr(busy, "inflight", 0))
        started = loop.time()
        await drain(busy, timeout=5)  # type: ignore[arg-type]
        return loop.time() - started

    waited = asyncio.run(scenario())
    assert 0.25 < waited < 2
