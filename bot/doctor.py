"""`deploybot doctor`: is everything in place? Configuration, knowledge base, state folder, Slack
credentials (auth.test) and, per environment, cluster access and every permission the bot uses
(SelfSubjectAccessReview), each named with what to do when it is missing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot import config_file, rbac
from bot.adapters.action_store import ActionStore
from bot.adapters.kube import KubeClient
from bot.config import Settings
from bot.domain.environments import Config, Environment
from bot.errors import ClusterError, DeploybotError
from bot.knowledge_base import KnowledgeBase


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    #: a missing optional permission (Argo/Kruise) warns without failing
    warning: bool = False


def run(settings: Settings, config_option: Path | None, env: Mapping[str, str]) -> list[Check]:
    checks: list[Check] = []
    config: Config | None = None
    path = config_file.config_path(config_option, settings.config_file)
    try:
        config = config_file.load_config(path)
        checks.append(Check("config", True, f"{path}: {len(config.environments)} environment(s)"))
    except DeploybotError as exc:
        checks.append(Check("config", False, str(exc)))
    try:
        kb = KnowledgeBase.open(settings)
        checks.append(Check("knowledge base", True, f"{len(kb.entries())} entries ({settings.knowledge_db})"))
        kb.close()
    except DeploybotError as exc:
        checks.append(Check("knowledge base", False, str(exc)))
    try:
        ActionStore(settings.state_db).recent(limit=1)
        checks.append(Check("state", True, f"{settings.state_db} writable (audit, idempotency, feedback)"))
    except OSError as exc:
        checks.append(Check("state", False, f"{settings.state_db}: {exc} (mount a writable volume there)"))
    checks.append(slack_check(env))
    for environment in config.environments.values() if config else ():
        checks.extend(environment_checks(environment))
    return checks


def slack_check(env: Mapping[str, str]) -> Check:
    token = env.get("SLACK_BOT_TOKEN")
    if not token:
        return Check("slack", False, "SLACK_BOT_TOKEN is not set")
    if not env.get("SLACK_APP_TOKEN") and not env.get("SLACK_SIGNING_SECRET"):
        return Check(
            "slack", False, "SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN (Socket Mode) is not set"
        )
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    base = env.get("SLACK_API_URL") or "https://slack.com/api/"
    client = WebClient(token=token, base_url=base if base.endswith("/") else base + "/", timeout=10)
    try:
        reply = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response else str(exc)
        return Check("slack", False, f"auth.test refused the bot token: {error} (check SLACK_BOT_TOKEN)")
    except OSError as exc:
        return Check("slack", False, f"cannot reach the Slack API at {base}: {exc}")
    mode = "Socket Mode" if env.get("SLACK_APP_TOKEN") else "HTTP"
    return Check("slack", True, f"bot {reply.get('user_id')} in team {reply.get('team_id')} ({mode})")


def environment_checks(env: Environment) -> list[Check]:
    name = f"environment {env.name}"
    try:
        client = KubeClient.connect(kubeconfig=env.kubeconfig, context=env.context)
    except ClusterError as exc:
        return [Check(name, False, str(exc))]
    try:
        missing: list[str] = []
        optional: list[str] = []
        for permission in rbac.permissions():
            if not _allowed(client, permission, env.namespace):
                label = f"{permission.verb} {permission.resource}" + (
                    "" if permission.namespaced else " (cluster)"
                )
                (optional if permission.optional else missing).append(label)
    except ClusterError as exc:
        return [Check(name, False, str(exc))]
    finally:
        client.close()
    where = f"namespace {env.namespace} at {client.server}"
    checks = [
        Check(
            name,
            not missing,
            f"{where}: "
            + (
                "every permission granted"
                if not missing
                else "missing " + ", ".join(missing) + " (see the chart's Role)"
            ),
        )
    ]
    if optional:
        checks.append(
            Check(
                f"{name} rollouts",
                True,
                "not granted: "
                + ", ".join(optional)
                + " (only needed where Argo Rollouts / OpenKruise are installed)",
                warning=True,
            )
        )
    return checks


def _allowed(client: KubeClient, permission: rbac.Permission, namespace: str) -> bool:
    resource, _, subresource = permission.resource.partition("/")
    attributes = {"verb": permission.verb, "group": permission.group, "resource": resource}
    if subresource:
        attributes["subresource"] = subresource
    if permission.namespaced:
        attributes["namespace"] = namespace
    review = client.request(
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body={
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        },
        what="create selfsubjectaccessreviews",
    )
    return bool(review.get("status", {}).get("allowed"))
