"""The `deploybot` command line: each command is a few lines over the services.

Imports stay inside the commands so `deploybot ask` never loads what it does not use
(no Kubernetes, no Slack, no sqlite-utils on that path).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.config import Settings
from bot.errors import DeploybotError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(exc: DeploybotError) -> None:
    click.echo(f"deploybot: {exc}", err=True)
    sys.exit(exc.exit_code)


def handles_errors(func: F) -> F:
    """Turn our errors into a one-line message and an exit code instead of a traceback."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DeploybotError as exc:
            _fail(exc)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="deploybot")
def main() -> None:
    """deploybot: deployment answers, environment diagnosis and safe actions, from Slack or a terminal."""


def _questions_from_stdin() -> Iterator[str]:
    for line in sys.stdin:
        if line.strip():
            yield line.rstrip("\n")


@main.command()
@click.argument("question", nargs=-1)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the JSON contract (one object per line in batch mode)."
)
@handles_errors
def ask(question: tuple[str, ...], as_json: bool) -> None:
    """Answer QUESTION from the knowledge base; with no QUESTION, answer each line of standard input."""
    from bot import services
    from bot.knowledge_base import KnowledgeBase
    from bot.render import answers

    kb = KnowledgeBase.open(Settings.from_env())

    def emit(result: services.AskResult) -> None:
        if as_json:
            click.echo(json.dumps(answers.to_json(result), ensure_ascii=False))
        else:
            click.echo(answers.to_text(result))

    if question:
        emit(services.ask(kb, " ".join(question)))
        return
    first = True
    for line in _questions_from_stdin():
        if not as_json and not first:
            click.echo("\n" + "-" * 40)
        first = False
        emit(services.ask(kb, line))


def _environment(config_option: Path | None, name: str) -> tuple[Settings, Any]:
    from bot import config_file

    settings = Settings.from_env()
    config = config_file.load_config(config_file.config_path(config_option, settings.config_file))
    return settings, config_file.environment(config, name)


CONFIG_OPTION = click.option(
    "--config",
    "config_option",
    type=click.Path(dir_okay=False, path_type=Path),
    help="deploybot.yaml to read (default: $DEPLOYBOT_CONFIG, then ./deploybot.yaml).",
)


@main.command()
@click.argument("env_name", metavar="ENV")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON contract.")
@CONFIG_OPTION
@handles_errors
def inspect(env_name: str, as_json: bool, config_option: Path | None) -> None:
    """Diagnose environment ENV: pods, events, workloads, nodes and release orders."""
    from bot import inspection as inspecting
    from bot.adapters.kube import KubeClient
    from bot.knowledge_base import KnowledgeBase
    from bot.render import inspection

    settings, env = _environment(config_option, env_name)
    client = KubeClient.connect(kubeconfig=env.kubeconfig, context=env.context)
    try:
        result = inspecting.inspect(client, env, KnowledgeBase.open(settings))
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(inspection.to_json(result), ensure_ascii=False))
    else:
        click.echo(inspection.to_text(result))


@main.command()
@click.argument("env_name", metavar="ENV")
@click.argument("action")
@click.argument("target", required=False)
@click.option(
    "--replicas", type=click.IntRange(min=0), help="For scale: the replica count (0 remembers the old one)."
)
@click.option("--container", help="For logs: which container (default: the first).")
@click.option("--previous", is_flag=True, help="For logs: the previous (crashed) container.")
@click.option("--force", is_flag=True, help="For delete_pod: no grace period.")
@click.option("--as", "actor", help="Acting identity, a Slack user id (default: the OS user).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only say what would change.")
@click.option("--key", help="Idempotency key: the same key runs at most once.")
@click.option("--expect", help="Refuse unless the target is still at this state (generation/revision).")
@CONFIG_OPTION
@handles_errors
def act(
    env_name: str,
    action: str,
    target: str | None,
    replicas: int | None,
    container: str | None,
    previous: bool,
    force: bool,
    actor: str | None,
    yes: bool,
    dry_run: bool,
    key: str | None,
    expect: str | None,
    config_option: Path | None,
) -> None:
    """Run ACTION on environment ENV (TARGET: workload or pod), with the checks a Slack button gets."""
    import getpass

    from bot import action_service
    from bot.adapters.action_store import ActionStore
    from bot.adapters.kube import KubeClient
    from bot.domain.actions import ActionRequest, Plan

    settings, env = _environment(config_option, env_name)
    params = {"replicas": str(replicas)} if replicas is not None else {}
    params |= {"container": container} if container else {}
    params |= {"previous": "true"} if previous else {}
    params |= {"force": "true"} if force else {}
    request = ActionRequest(
        environment=env.name,
        action=action,
        target=target,
        actor=actor or getpass.getuser(),
        params=params,
        expected=expect,
        key=key,
    )

    def confirm(plan: Plan) -> bool:
        if yes:
            return True
        if not sys.stdin.isatty():
            from bot.errors import UsageError

            raise UsageError(f"about to {plan.description}; pass --yes to confirm when not at a terminal")
        return click.confirm(f"{plan.description}?", default=False)

    store = ActionStore(settings.state_db)
    client = KubeClient.connect(kubeconfig=env.kubeconfig, context=env.context)
    try:
        result = action_service.act(client, env, request, store, dry_run=dry_run, confirm=confirm)
    finally:
        client.close()
        store.close()
    click.echo(result.output if result.outcome == "read" else result.message)


@main.command()
@click.argument("env_name", metavar="ENV", required=False)
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@handles_errors
def audit(env_name: str | None, limit: int, as_json: bool) -> None:
    """Recent actions (all environments, or ENV): who, what, on which target, and how it ended."""
    from datetime import UTC, datetime

    from bot.adapters.action_store import ActionStore

    store = ActionStore(Settings.from_env().state_db)
    try:
        rows = store.recent(env_name, limit)
    finally:
        store.close()
    for row in rows:
        when = datetime.fromtimestamp(row.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        if as_json:
            click.echo(
                json.dumps({**row.__dict__, "at": when, "params": dict(row.params)}, ensure_ascii=False)
            )
        else:
            what = f"{row.action} {row.target}"
            click.echo(f"{when}  {row.environment}  {row.actor}  {what}  {row.outcome}: {row.message}")
    if not rows and not as_json:
        click.echo("no actions recorded yet")


@main.command()
@CONFIG_OPTION
@handles_errors
def serve(config_option: Path | None) -> None:
    """Run the Slack app: Socket Mode with SLACK_APP_TOKEN, else HTTP on $PORT (default 3000)."""
    import asyncio
    import os

    from bot import config_file, logs
    from bot.slack import serve as slack_serve

    logs.configure(os.environ.get("DEPLOYBOT_LOG_FORMAT", "text"))
    settings = Settings.from_env()
    slack = slack_serve.SlackSettings.from_env(os.environ)
    config = config_file.load_config(config_file.config_path(config_option, settings.config_file))
    asyncio.run(slack_serve.run(settings, slack, config))


@main.command()
@CONFIG_OPTION
@handles_errors
def doctor(config_option: Path | None) -> None:
    """Check configuration, knowledge base, Slack credentials and each environment's cluster access."""
    import os

    from bot import doctor as doctor_checks

    checks = doctor_checks.run(Settings.from_env(), config_option, os.environ)
    for check in checks:
        mark = "!" if check.warning else ("✔" if check.ok else "✖")
        click.echo(f"{mark} {check.name}: {check.detail}")
    failed = [c for c in checks if not c.ok]
    click.echo(f"{len(checks) - len(failed)}/{len(checks)} checks passed")
    if failed:
        sys.exit(1)


@main.group()
def kb() -> None:
    """Build, inspect and grow the knowledge base."""


@kb.command("build")
@handles_errors
def kb_build() -> None:
    """Validate every entry and compile the SQLite knowledge base."""
    from bot import knowledge_base

    report, conn = knowledge_base.build(Settings.from_env())
    conn.close()
    where = report.path or "memory (data folder not writable)"
    click.echo(f"built {report.entries} entries ({report.drafts} drafts kept out of answers) -> {where}")


@kb.command("list")
@click.option("--drafts", is_flag=True, help="Include draft entries.")
@handles_errors
def kb_list(drafts: bool) -> None:
    """List the entries: id, title, finding codes."""
    from bot.knowledge_base import KnowledgeBase

    for entry in KnowledgeBase.open(Settings.from_env()).entries(include_drafts=drafts):
        codes = f"  ({', '.join(entry.findings)})" if entry.findings else ""
        mark = "[draft] " if entry.draft else ""
        click.echo(f"{entry.id:48} {mark}{entry.title}{codes}")


@kb.command("show")
@click.argument("entry_id")
@handles_errors
def kb_show(entry_id: str) -> None:
    """Print one entry in full."""
    from bot.errors import UsageError
    from bot.knowledge_base import KnowledgeBase

    entry = KnowledgeBase.open(Settings.from_env()).entry(entry_id)
    if entry is None:
        raise UsageError(f"no entry with id {entry_id!r} (see `deploybot kb list`)")
    click.echo(f"# {entry.title}  [{entry.id}]\n\n{entry.summary}\n\n{entry.body}\n\nsource: {entry.source}")


@kb.command("feedback")
@click.option("--limit", type=click.IntRange(min=1, max=500), default=50, show_default=True)
@handles_errors
def kb_feedback(limit: int) -> None:
    """Questions the bot could not answer and answers voted down: what to write next."""
    from bot.adapters.slack_store import SlackStore

    rows = SlackStore(Settings.from_env().state_db).feedback_summary(limit)
    for row in rows:
        status = "unanswered" if not row.confident else f"+{row.votes_up} -{row.votes_down} {row.entry_id}"
        click.echo(f"{status:40} {row.question}")
    if not rows:
        click.echo("no feedback recorded yet")


@kb.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Where to write drafts.")
@handles_errors
def kb_import(paths: tuple[Path, ...], out: Path | None) -> None:
    """Turn a team's own docs (Markdown, HTML, text) into draft entries, split by heading or question."""
    from bot.adapters import doc_import

    settings = Settings.from_env()
    target = out or settings.knowledge_dir / "drafts"
    written = doc_import.import_docs(list(paths), target)
    for path in written:
        click.echo(f"draft: {path}")
    click.echo(f"{len(written)} draft entries in {target}; review them, then drop `draft: true` to publish.")
