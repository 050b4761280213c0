"""The Helm chart, linted and installed by real Helm (helm-sdkpy: the Helm v4 library) into a real
kube-apiserver (kube-local, v1.20, RBAC on). kube-local has no controllers and no kubelet: what Helm
creates is stored and read back, no pod runs. Then the bot runs as kube-local's `deploybot` user, bound
to the chart's own installed Role and ClusterRole exactly as the chart binds its ServiceAccount, with
the configuration and environment the chart renders: inspect, doctor and every changing action.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import action_service, config_file
from bot.adapters.action_store import ActionStore
from bot.adapters.kube import KubeClient
from bot.domain.actions import PREVIOUS_REPLICAS, ActionRequest
from bot.errors import ActionFailed, ClusterNotFound
from tests import k8s_objects as k
from tests.conftest import REPO, run_cli
from tests.kube_cluster import BOT_KUBECONFIG_VAR, KUBECONFIG_VAR, Cluster
from tests.needs import need
from tests.rbac import chart_rules
from tests.slack_harness import LoopThread, start_fake_slack
from tests.test_inspect_cli import load

CHART = REPO / "helm" / "deploybot"
OPERATOR = "U0OPERATOR"
BOT_TOKEN = "xoxb-good"  # the fake Slack's valid token (tests/slack_harness.py)
#: the changing actions, in an order where each applies to what the previous one left
CHANGING = ["scale", "restore", "pause_order", "resume_order", "restart", "rollback_order"]
CHANGING += ["retry_failed", "delete_pod", "close_order"]
HEALTHY_POD = k.web_pod_name(
    0, template_hash="5c8d7f9b4"
)  # delete_pod's target; retry_failed takes the others


def helm() -> Any:
    try:
        import helm_sdkpy
    except ImportError as exc:
        need(
            "helm-sdkpy",
            f"{exc}: pip install --no-deps --ignore-requires-python helm-sdkpy cffi pycparser",
        )
    return helm_sdkpy


def kubeconfig(var: str) -> str:
    import os

    path = os.environ.get(var)
    if not path or not Path(path).exists():
        need("a Kubernetes API server", f"set {var} (`.ci/run` starts ../shared/kube-local and sets it)")
    return path


# ---------------------------------------------------------------- installing


@dataclass
class Release:
    name: str
    namespace: str
    objects: dict[tuple[str, str], dict[str, Any]]  # (kind, name) -> the manifest Helm applied
    seconds: float
    bindings: list[dict[str, Any]] = field(default_factory=list)

    def one(self, kind: str) -> dict[str, Any]:
        [obj] = [o for (kind_, _), o in self.objects.items() if kind_ == kind]
        return obj

    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.objects}


class Helm:
    def __init__(self, cluster: Cluster) -> None:
        self.sdk = helm()
        self.cluster = cluster
        self.kubeconfig = kubeconfig(KUBECONFIG_VAR)
        self.releases: list[Release] = []

    def config(self, namespace: str) -> Any:
        return self.sdk.Configuration(namespace=namespace, kubeconfig=self.kubeconfig)

    def install(self, values: dict[str, Any], *, name: str | None = None) -> Release:
        name = name or f"bot-{uuid.uuid4().hex[:6]}"
        namespace = f"helm-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        done = asyncio.run(
            self.sdk.Install(self.config(namespace)).run(
                name, str(CHART), values=values, create_namespace=True, wait=False, timeout=60
            )
        )
        release = Release(name, namespace, manifest_objects(done["manifest"]), time.perf_counter() - started)
        self.releases.append(release)
        assert done["info"]["status"] == "deployed"
        return release

    def upgrade(self, release: Release, values: dict[str, Any]) -> Release:
        done = asyncio.run(
            self.sdk.Upgrade(self.config(release.namespace)).run(
                release.name, str(CHART), values=values, wait=False, timeout=60
            )
        )
        release.objects = manifest_objects(done["manifest"])
        return release

    def uninstall_all(self) -> None:
        for release in self.releases:
            for binding in release.bindings:
                with contextlib.suppress(ClusterNotFound):
                    self.cluster.delete(binding)
            # no wait: without controllers a PVC keeps its protection finalizer
            with contextlib.suppress(self.sdk.HelmError):
                asyncio.run(self.sdk.Uninstall(self.config(release.namespace)).run(release.name, wait=False))


def manifest_objects(manifest: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(manifest) if d}


@pytest.fixture(scope="session", autouse=True)
def needs() -> None:
    """Before the session's `cluster` fixture, which would only skip: in CI these must run."""
    helm()
    kubeconfig(KUBECONFIG_VAR)


@pytest.fixture(scope="module")
def charts(cluster: Cluster) -> Iterator[Helm]:
    installer = Helm(cluster)
    yield installer
    installer.uninstall_all()
    if installer.releases:
        times = sorted(r.seconds for r in installer.releases)
        print(f"\nchart installs on kube-local: {len(times)}, median {times[len(times) // 2]:.2f} s")


@pytest.fixture(scope="module")
def slack_url() -> Iterator[str]:
    loop = LoopThread()
    fake, _ = start_fake_slack(loop)
    yield fake.url
    loop.stop()


def tokens(**more: Any) -> dict[str, Any]:
    return {"slack": {"botToken": BOT_TOKEN, "signingSecret": "signing-secret", **more}}


def environments(namespace: str) -> dict[str, Any]:
    return {"shop-prod": {"namespace": namespace, "protected": True, "operators": [OPERATOR]}}


# ---------------------------------------------------------------- reading what was stored


def stored(cluster: Cluster, kind: str, namespace: str, name: str, api: str | None = None) -> dict[str, Any]:
    prefix, plural, namespaced = cluster.kinds[kind]
    if api:
        prefix = f"/apis/{api}"
    where = f"{prefix}/namespaces/{namespace}/{plural}" if namespaced else f"{prefix}/{plural}"
    return cluster.admin.request("GET", f"{where}/{name}", what=f"get {kind}")


def deployment_of(cluster: Cluster, release: Release) -> dict[str, Any]:
    name = release.one("Deployment")["metadata"]["name"]
    return stored(cluster, "Deployment", release.namespace, name)


def container_env(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def secret_data(cluster: Cluster, namespace: str, name: str) -> dict[str, str]:
    secret = cluster.admin.request("GET", f"/api/v1/namespaces/{namespace}/secrets/{name}")
    return {key: base64.b64decode(value).decode() for key, value in secret.get("data", {}).items()}


def pod_environment(cluster: Cluster, release: Release) -> dict[str, str]:
    """The environment the kubelet would give the container: envFrom Secrets, then env (resolved)."""
    [container] = deployment_of(cluster, release)["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env |= secret_data(cluster, release.namespace, source["secretRef"]["name"])
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
            continue
        if "fieldRef" in entry["valueFrom"]:  # the downward API: POD_NAMESPACE, POD_NAME
            field = entry["valueFrom"]["fieldRef"]["fieldPath"]
            env[entry["name"]] = {"metadata.namespace": release.namespace, "metadata.name": "deploybot-0"}[
                field
            ]
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        data = secret_data(cluster, release.namespace, ref["name"])
        if ref["key"] in data:
            env[entry["name"]] = data[ref["key"]]
        else:
            assert ref.get("optional"), f"{entry['name']}: Secret {ref['name']} has no {ref['key']}"
    return env


def rules(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: r[k] for k in ("apiGroups", "resources", "verbs")} for r in obj["rules"]]


# ---------------------------------------------------------------- lint


def lint(chart: Path) -> list[int]:
    sdk = helm()
    result = asyncio.run(sdk.Lint(sdk.Configuration()).run(str(chart)))  # no cluster needed
    return [m["Severity"] for m in result["Messages"]]


def chart_with_values(tmp_path: Path, values: dict[str, Any]) -> Path:
    """`helm lint -f values.yaml`: helm-sdkpy lints with the chart's values.yaml only: the copy has them."""
    copy = tmp_path / "deploybot"
    shutil.copytree(CHART, copy)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    (copy / "values.yaml").write_text(yaml.safe_dump(deep_merge(defaults, values)))
    return copy


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = deep_merge(base[key], value) if isinstance(value, dict) and key in base else value
    return merged


INFO, WARNING, ERROR = 1, 2, 3  # Helm's lint severities (helm-sdkpy returns them without the text)


def test_helm_lint_passes_for_the_defaults_and_a_shared_database_and_refuses_two_replicas_alone(
    tmp_path: Path,
) -> None:
    assert max(lint(CHART)) < WARNING  # the defaults (lint tolerates the missing tokens, as helm does)
    shared = {
        "replicaCount": 2,
        "slack": {"existingSecret": "deploybot-slack"},
        "database": {"existingSecret": "deploybot-db"},
        "environments": {"shop-prod": {"namespace": "shop"}},
    }
    assert max(lint(chart_with_values(tmp_path / "shared", shared))) < WARNING
    alone = {"replicaCount": 2, "slack": {"existingSecret": "deploybot-slack"}}
    assert ERROR in lint(chart_with_values(tmp_path / "alone", alone))


# ---------------------------------------------------------------- install variants


def test_default_install_renders_what_the_app_needs(charts: Helm, cluster: Cluster) -> None:
    env_ns = cluster.namespace("shop")
    values = {**tokens(), "environments": environments(env_ns)}
    release = charts.install(values)
    assert release.kinds() == {
        "ServiceAccount", "Secret", "ConfigMap", "Role", "RoleBinding",
        "ClusterRole", "ClusterRoleBinding", "Service", "Deployment",
    }  # fmt: skip
    assert "PodDisruptionBudget" not in release.kinds()  # one replica: nothing to keep available
    deployment = deployment_of(cluster, release)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    fullname = deployment["metadata"]["name"]
    env = container_env(deployment)
    assert env["DEPLOYBOT_SLACK_MODE"] == "http" and env["DEPLOYBOT_RBAC_READONLY"] == "false"
    assert env["DEPLOYBOT_BUTTON_KEY"] == {"secretKeyRef": {"name": fullname, "key": "DEPLOYBOT_BUTTON_KEY"}}
    assert "DEPLOYBOT_DATABASE_URL" not in env
    secret = secret_data(cluster, release.namespace, fullname)
    assert secret["SLACK_BOT_TOKEN"] == BOT_TOKEN and secret["SLACK_SIGNING_SECRET"] == "signing-secret"
    assert len(secret["DEPLOYBOT_BUTTON_KEY"]) == 48 and "SLACK_APP_TOKEN" not in secret
    role = stored(cluster, "Role", env_ns, fullname)
    assert rules(role) == chart_rules()[0]
    assert rules(stored(cluster, "ClusterRole", "", f"{fullname}-nodes")) == chart_rules()[1]
    binding = stored(cluster, "RoleBinding", env_ns, fullname)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": fullname, "namespace": release.namespace}
    ]
    service = stored(cluster, "Service", release.namespace, fullname)
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, "http")]
    config = stored(cluster, "ConfigMap", release.namespace, fullname)["data"]["deploybot.yaml"]
    assert yaml.safe_load(config) == {"environments": environments(env_ns)}

    # An upgrade (a changed value) keeps the button key: buttons already posted still verify.
    charts.upgrade(release, {**values, "resources": {"requests": {"cpu": "50m"}}})
    assert (
        secret_data(cluster, release.namespace, fullname)["DEPLOYBOT_BUTTON_KEY"]
        == (secret["DEPLOYBOT_BUTTON_KEY"])
    )


def test_existing_secret_with_a_shared_database_and_two_replicas(charts: Helm, cluster: Cluster) -> None:
    env_ns = cluster.namespace("shop")
    release_values = {
        "replicaCount": 2,
        "slack": {"existingSecret": "team-slack"},
        "database": {"url": "postgresql://deploybot:pw@db.internal:5432/deploybot"},
        "environments": environments(env_ns),
    }
    release = charts.install(release_values)
    deployment = deployment_of(cluster, release)
    fullname = deployment["metadata"]["name"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "team-slack"}}]
    env = container_env(deployment)
    assert env["DEPLOYBOT_BUTTON_KEY"] == {
        "secretKeyRef": {"name": "team-slack", "key": "DEPLOYBOT_BUTTON_KEY", "optional": True}
    }
    assert env["DEPLOYBOT_DATABASE_URL"] == {
        "secretKeyRef": {"name": fullname, "key": "DEPLOYBOT_DATABASE_URL"}
    }
    # The chart's Secret holds only the URL: the Slack credentials and the key are the team's.
    secret = secret_data(cluster, release.namespace, fullname)
    assert secret == {"DEPLOYBOT_DATABASE_URL": "postgresql://deploybot:pw@db.internal:5432/deploybot"}
    # kube-local is v1.20: no policy/v1, so the chart falls back to policy/v1beta1.
    served = {
        g["name"]: [v["version"] for v in g["versions"]]
        for g in cluster.admin.request("GET", "/apis")["groups"]
    }
    api = "policy/v1" if "v1" in served["policy"] else "policy/v1beta1"
    pdb = release.one("PodDisruptionBudget")
    assert pdb["apiVersion"] == api
    cluster.kinds.setdefault("PodDisruptionBudget", ("/apis/policy/v1", "poddisruptionbudgets", True))
    pdb_stored = stored(cluster, "PodDisruptionBudget", release.namespace, fullname, api=api)
    assert pdb_stored["spec"]["minAvailable"] == 1
    assert deployment["spec"]["replicas"] == 2


def test_socket_mode_has_no_service_but_keeps_its_probes(charts: Helm, cluster: Cluster) -> None:
    env_ns = cluster.namespace("shop")
    release = charts.install(
        {
            "mode": "socket",
            "slack": {"botToken": BOT_TOKEN, "appToken": "xapp-1-socket"},
            "database": {"existingSecret": "team-db", "existingSecretKey": "url"},
            "environments": environments(env_ns),
        }
    )
    assert "Service" not in release.kinds()
    deployment = deployment_of(cluster, release)
    fullname = deployment["metadata"]["name"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = container_env(deployment)
    assert env["DEPLOYBOT_SLACK_MODE"] == "socket"
    assert env["DEPLOYBOT_DATABASE_URL"] == {"secretKeyRef": {"name": "team-db", "key": "url"}}
    secret = secret_data(cluster, release.namespace, fullname)
    assert secret["SLACK_APP_TOKEN"] == "xapp-1-socket" and "SLACK_SIGNING_SECRET" not in secret


def test_persistence_uses_a_claim_and_recreate(charts: Helm, cluster: Cluster) -> None:
    env_ns = cluster.namespace("shop")
    release = charts.install(
        {**tokens(), "persistence": {"enabled": True}, "environments": environments(env_ns)}
    )
    deployment = deployment_of(cluster, release)
    fullname = deployment["metadata"]["name"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": fullname}
    claim = stored(cluster, "PersistentVolumeClaim", release.namespace, fullname)
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": 2}, "/database"),  # several replicas without a shared database
        (
            {"replicaCount": 2, "database": {"url": "postgresql://x/y"}, "persistence": {"enabled": True}},
            "/replicaCount",
        ),
        ({"database": {"url": "mysql://x/y"}}, "/database/url"),
    ],
)
def test_the_schema_refuses_unsafe_values_before_anything_is_created(
    charts: Helm, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(charts.sdk.InstallError, match="schema") as refused:
        charts.install({**tokens(), **values})
    assert message in str(refused.value)


def test_a_database_url_and_an_existing_secret_together_are_refused(charts: Helm) -> None:
    both = {"url": "postgresql://d/b", "existingSecret": "team-db"}
    with pytest.raises(charts.sdk.InstallError) as refused:
        charts.install({**tokens(), "database": both})
    assert "set database.url or database.existingSecret, not both" in str(refused.value)


def test_a_missing_environment_namespace_fails_the_install_clearly(charts: Helm, cluster: Cluster) -> None:
    missing = f"gone-{uuid.uuid4().hex[:6]}"
    with pytest.raises(charts.sdk.InstallError) as refused:
        charts.install({**tokens(), "environments": {"shop-prod": {"namespace": missing}}})
    assert f'environment shop-prod: namespace "{missing}" does not exist in this cluster' in str(
        refused.value
    )
    remote = {"shop-prod": {"namespace": missing, "kubeconfig": "/etc/kube/other-cluster"}}
    release = charts.install({**tokens(), "environments": remote})  # another cluster's: not checked here
    roles = [name for kind, name in release.objects if kind == "Role"]
    assert all(name.endswith("-oncall-lease") for name in roles)  # no environment Role, only the Lease's


# ---------------------------------------------------------------- the bot on what the chart grants


class Shop:
    """The environment's namespace: shop-web (revisions 3 and 4, 3 replicas), one healthy pod and two
    crash-looping ones; and the bot's side: the chart's config, the pod's environment, its identity."""

    def __init__(self, cluster: Cluster, release: Release, env_ns: str, tmp: Path) -> None:
        self.cluster, self.ns, self.tmp = cluster, env_ns, tmp
        old = k.container(image=f"{k.REGISTRY}/web:v1.4.2")
        new = k.container(image=f"{k.REGISTRY}/web:v1.4.3")
        load(
            cluster,
            env_ns,
            [
                k.deployment(replicas=3, containers=[new], revision=4),
                k.replicaset("shop-web-7d9f8c6b5", containers=[old], revision=3, replicas=0),
                k.replicaset(
                    "shop-web-5c8d7f9b4", template_hash="5c8d7f9b4", containers=[new], revision=4, replicas=3
                ),
                k.web_pod(0, template_hash="5c8d7f9b4"),  # HEALTHY_POD
                *k.crash_loop_pods(2),
            ],
        )
        bind_bot_user(cluster, release)
        self.bot_kubeconfig = kubeconfig(BOT_KUBECONFIG_VAR)
        configmap = stored(
            cluster, "ConfigMap", release.namespace, release.one("ConfigMap")["metadata"]["name"]
        )
        self.config = tmp / "deploybot.yaml"  # what the chart mounts at /etc/deploybot
        self.config.write_text(configmap["data"]["deploybot.yaml"])
        self.pod_env = pod_environment(cluster, release)

    def cli(self, *args: str, slack_url: str) -> Any:
        env = {
            **self.pod_env,
            "KUBECONFIG": self.bot_kubeconfig,  # stands in for the ServiceAccount token
            "DEPLOYBOT_DATA_DIR": str(self.tmp / "data"),
            "DEPLOYBOT_KNOWLEDGE_DIR": str(REPO / "knowledge"),
            "SLACK_API_URL": slack_url + "/api/",
        }
        return run_cli(*args, "--config", str(self.config), env=env)

    def make_applicable(self, action: str) -> None:
        """resume needs a paused order, restore a workload scaled to 0 (a read-only bot can make neither)."""
        change = {
            "resume_order": {"spec": {"paused": True}},
            "restore": {"metadata": {"annotations": {PREVIOUS_REPLICAS: "3"}}, "spec": {"replicas": 0}},
        }.get(action)
        if change:
            self.cluster.admin.request(
                "PATCH",
                f"/apis/apps/v1/namespaces/{self.ns}/deployments/shop-web",
                body=change,
                content_type="application/merge-patch+json",
            )

    def act(self, action: str) -> action_service.ActResult:
        environment = config_file.load_config(self.config).environments["shop-prod"]
        target = {"delete_pod": HEALTHY_POD}.get(action, "shop-web")
        params = {"scale": {"replicas": "0"}}.get(action, {})
        request = ActionRequest(
            environment="shop-prod", action=action, target=target, actor=OPERATOR, params=params
        )
        client = KubeClient.connect(kubeconfig=self.bot_kubeconfig)
        store = ActionStore(self.tmp / "state.sqlite")
        try:
            return action_service.act(client, environment, request, store)
        finally:
            client.close()


def bind_bot_user(cluster: Cluster, release: Release) -> None:
    """The chart's own bindings, with kube-local's `deploybot` user in place of the ServiceAccount."""
    for (kind, name), binding in release.objects.items():
        if kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        metadata = {"name": f"{name}-bot-user"}
        if kind == "RoleBinding":
            metadata["namespace"] = binding["metadata"]["namespace"]
        copy = {
            "apiVersion": binding["apiVersion"],
            "kind": kind,
            "metadata": metadata,
            "roleRef": binding["roleRef"],
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "deploybot"}],
        }
        cluster.create(copy)
        release.bindings.append(copy)


def inspected(shop: Shop, slack_url: str) -> dict[str, Any]:
    done = shop.cli("inspect", "shop-prod", "--json", slack_url=slack_url)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["environment"] == "shop-prod" and report["namespace"] == shop.ns
    assert not report.get("unavailable"), report.get("unavailable")  # the chart's rules read everything
    assert "CrashLoop" in {f["code"] for f in report["findings"]}
    return report


def test_the_full_install_lets_the_bot_inspect_check_and_change(
    charts: Helm, cluster: Cluster, tmp_path: Path, slack_url: str
) -> None:
    env_ns = cluster.namespace("shop")
    release = charts.install({**tokens(), "environments": environments(env_ns)})
    shop = Shop(cluster, release, env_ns, tmp_path)
    try:
        inspected(shop, slack_url)
        doctor = shop.cli("doctor", slack_url=slack_url)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        assert f"✔ environment shop-prod: namespace {env_ns}" in doctor.stdout
        assert "every permission granted" in doctor.stdout and "read-only" not in doctor.stdout
        outcomes = {action: shop.act(action).outcome for action in CHANGING}
    finally:
        release_bindings(cluster, release)
    assert outcomes == dict.fromkeys(CHANGING, "done")
    web = stored(cluster, "Deployment", env_ns, "shop-web")
    assert web["metadata"]["annotations"]["deploybot.io/closed-by"] == OPERATOR


def test_a_read_only_install_inspects_and_doctor_says_actions_are_off(
    charts: Helm, cluster: Cluster, tmp_path: Path, slack_url: str
) -> None:
    env_ns = cluster.namespace("shop")
    release = charts.install({**tokens(), "rbac": {"readOnly": True}, "environments": environments(env_ns)})
    fullname = release.one("Deployment")["metadata"]["name"]
    assert rules(stored(cluster, "Role", env_ns, fullname)) == chart_rules(read_only=True)[0]
    shop = Shop(cluster, release, env_ns, tmp_path)
    assert shop.pod_env["DEPLOYBOT_RBAC_READONLY"] == "true"
    try:
        inspected(shop, slack_url)
        doctor = shop.cli("doctor", slack_url=slack_url)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr  # no false ✖ for the missing writes
        assert "✖" not in doctor.stdout
        assert "! actions: read-only install: actions disabled" in doctor.stdout
        assert "every read permission granted (read-only install)" in doctor.stdout
        refusals: dict[str, str] = {}
        for action in CHANGING:
            shop.make_applicable(action)  # as an admin: so the bot's write reaches the API server
            before = stored(cluster, "Deployment", env_ns, "shop-web")["spec"]
            with pytest.raises(ActionFailed) as failed:
                shop.act(action)
            refusals[action] = str(failed.value)
            assert stored(cluster, "Deployment", env_ns, "shop-web")["spec"] == before, action
    finally:
        release_bindings(cluster, release)
    assert all("403" in why for why in refusals.values()), refusals
    pods = cluster.admin.request("GET", f"/api/v1/namespaces/{env_ns}/pods")["items"]
    assert not [p for p in pods if p["metadata"].get("deletionTimestamp")]  # no pod deleted either


def release_bindings(cluster: Cluster, release: Release) -> None:
    """The ClusterRoleBinding outlives namespaces, and other tests expect the user not to list nodes."""
    for binding in release.bindings:
        cluster.delete(binding)
    release.bindings.clear()
