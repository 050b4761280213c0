"""`deploybot doctor`: is everything in place? Configuration, knowledge base, state folder, Slack
credentials (auth.test) and, per environment, cluster access and every permission the bot uses
(SelfSubjectAccessReview), each named with what to do when it is missing."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot import config_file, rbac
from bot.adapters.kube import KubeClient, namespace_missing
from bot.adapters.slack_store import SlackStore
from bot.adapters.state_db import StateDB
from bot.config import Settings
from bot.domain.environments import Config, Environment
from bot.errors import ClusterError, ConfigError, DeploybotError
from bot.knowledge_base import KnowledgeBase, is_fresh


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
        checks.extend(Check("config", False, warning) for warning in config.warnings)
    except DeploybotError as exc:
        checks.append(Check("config", False, str(exc)))
    checks.append(knowledge_check(settings))
    checks.append(state_check(settings))
    checks.append(slack_check(env))
    read_only = read_only_install(env)
    if read_only:
        checks.append(
            Check(
                "actions",
                True,
                "read-only install: actions disabled (DEPLOYBOT_RBAC_READONLY, the chart's rbac.readOnly): "
                "inspection only, every change is refused by the API (403)",
                warning=True,
            )
        )
    for environment in config.environments.values() if config else ():
        checks.extend(environment_checks(environment, read_only=read_only))
    return checks


def read_only_install(env: Mapping[str, str]) -> bool:
    return env.get("DEPLOYBOT_RBAC_READONLY", "").strip().lower() in ("1", "true", "yes")


def knowledge_check(settings: Settings) -> Check:
    """The base opens, and from the compiled file: when that file cannot be read (or is stale and
    cannot be rewritten), every start compiles the entries again in memory, which answers but
    costs seconds per process and would hide an image built wrong."""
    try:
        kb = KnowledgeBase.open(settings)
    except DeploybotError as exc:
        return Check("knowledge base", False, str(exc))
    try:
        entries = len(kb.entries())
    finally:
        kb.close()
    db = settings.knowledge_db
    if is_fresh(settings):
        return Check("knowledge base", True, f"{entries} entries ({db})")
    if db.exists() and not os.access(db, os.R_OK):
        st = db.stat()
        why = (
            f"{db} is not readable by uid {os.getuid()} (mode {st.st_mode & 0o777:04o}, owner uid "
            f"{st.st_uid}): make it world-readable (chmod a+r), as the image build does"
        )
    elif db.exists():
        why = f"{db} is stale and cannot be rewritten: run `deploybot kb build` where it is writable"
    else:
        why = f"{db} is missing and cannot be written: run `deploybot kb build`, or make its folder writable"
    return Check("knowledge base", False, f"{entries} entries, compiled in memory at every start: {why}")


def state_check(settings: Settings) -> Check:
    """Open (and migrate) the state database and write to it: a read-only volume or a corrupt
    file shows here, not at the first click."""
    try:
        db = StateDB.open(settings.state_location)
    except DeploybotError as exc:
        return Check("state", False, f"{exc} (mount a writable volume, or fix DEPLOYBOT_DATABASE_URL)")
    try:
        SlackStore(db).remember_thread("doctor", "doctor")
        kind = (
            "PostgreSQL, shared by every replica" if db.dialect == "postgresql" else "SQLite, this pod only"
        )
        return Check("state", True, f"{db.where} writable, schema v{db.version()} ({kind})")
    except DeploybotError as exc:
        return Check("state", False, f"{exc} (mount a writable volume there)")
    finally:
        db.close()


def slack_check(env: Mapping[str, str]) -> Check:
    from bot.slack.serve import SlackSettings  # the same checks `serve` makes, mode included

    try:
        settings = SlackSettings.from_env(env)
    except ConfigError as exc:
        return Check("slack", False, "; ".join(exc.problems))
    token = settings.bot_token
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
    mode = "Socket Mode" if settings.mode == "socket" else "HTTP"
    return Check("slack", True, f"bot {reply.get('user_id')} in team {reply.get('team_id')} ({mode})")


def environment_checks(env: Environment, *, read_only: bool = False) -> list[Check]:
    """Every permission the bot uses; a read-only install (rbac.readOnly) only the read ones."""
    name = f"environment {env.name}"
    try:
        client = KubeClient.connect(kubeconfig=env.kubeconfig, context=env.context)
    except ClusterError as exc:
        return [Check(name, False, str(exc))]
    try:
        if namespace_missing(client, env.namespace):
            return [Check(name, False, f"namespace {env.namespace} does not exist at {client.server}")]
        missing: list[str] = []
        optional: list[str] = []
        for permission in rbac.permissions():
            if read_only and permission.write:
                continue
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
    granted = "every permission granted"
    checks = [
        Check(
            name,
            not missing,
            f"{where}: "
            + (
                (granted if not read_only else "every read permission granted (read-only install)")
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
