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


def _ask_line(kb: Any, line: str) -> Any:
    """One batch line: a line that cleans to nothing (colour codes only) is answered as empty."""
    from bot import services
    from bot.domain import text

    if not text.normalize(line):
        return services.AskResult(query=text.clean(line), confident=False, answers=())
    return services.ask(kb, line)


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
        emit(_ask_line(kb, line))


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


def _known_action(action: str) -> None:
    """An unknown action is a usage error (exit 2) that names the closest ones."""
    from rapidfuzz import fuzz, process

    from bot.domain.actions import CHANGING, READ_ONLY
    from bot.errors import UsageError

    known = sorted(READ_ONLY | CHANGING)
    if action in known:
        return
    close = [c for c, _, _ in process.extract(action, known, scorer=fuzz.WRatio, limit=3, score_cutoff=60)]
    hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(known)}"
    raise UsageError(f"unknown action {action!r}; {hint}")


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
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (not enough above max_replicas).")
@click.option(
    "--confirm-replicas",
    type=click.IntRange(min=0),
    metavar="N",
    help="For scale above the environment's max_replicas: the same N again (instead of typing it).",
)
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
    confirm_replicas: int | None,
    dry_run: bool,
    key: str | None,
    expect: str | None,
    config_option: Path | None,
) -> None:
    """Run ACTION on environment ENV (TARGET: workload or pod), with the checks a Slack button gets.

    \b
    Actions: close_order, resume_order, pause_order, rollback_order, retry_failed, restart,
    scale --replicas N, restore, delete_pod [--force], logs [--container C] [--previous], events.

    A change asks for confirmation; --yes skips it. Scaling above the environment's max_replicas
    (deploybot.yaml, default 50) needs the count twice: at a terminal you type N, elsewhere pass
    --confirm-replicas N; --yes alone is refused there (exit 2), so a stray 500 for 50 never runs.
    Exit codes: 0 done, 2 usage or config error, 3 refused, 1 the cluster failed the change.
    """
    import getpass

    from bot import action_service
    from bot.adapters.action_store import ActionStore
    from bot.adapters.kube import KubeClient
    from bot.domain.actions import ActionRequest, Plan
    from bot.errors import UsageError

    _known_action(action)
    settings, env = _environment(config_option, env_name)
    above_ceiling = action == "scale" and replicas is not None and replicas > env.max_replicas
    if above_ceiling and confirm_replicas is not None and confirm_replicas != replicas:
        raise UsageError(f"--confirm-replicas {confirm_replicas} does not match --replicas {replicas}")
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
        if above_ceiling:
            ceiling = f"{replicas} is above max_replicas {env.max_replicas} of {env.name}"
            if confirm_replicas == replicas:
                return True
            if not sys.stdin.isatty():
                raise UsageError(
                    f"about to {plan.description}; {ceiling}: pass --confirm-replicas {replicas} "
                    "(--yes is not enough)"
                )
            typed = click.prompt(
                f"{plan.description}? {ceiling}: type {replicas} to confirm", default="", show_default=False
            )
            return str(typed).strip() == str(replicas)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError(f"about to {plan.description}; pass --yes to confirm when not at a terminal")
        return click.confirm(f"{plan.description}?", default=False)

    store = ActionStore(settings.state_location, via="cli", os_user=getpass.getuser())
    client = KubeClient.connect(kubeconfig=env.kubeconfig, context=env.context)
    try:
        result = action_service.act(client, env, request, store, dry_run=dry_run, confirm=confirm)
    finally:
        client.close()
        store.close()
    from bot.domain.text import terminal_safe  # log lines and event messages come from the cluster

    click.echo(terminal_safe(result.output if result.outcome == "read" else result.message))


@main.command()
@click.argument("env_name", metavar="ENV", required=False)
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@CONFIG_OPTION
@handles_errors
def audit(env_name: str | None, limit: int, as_json: bool, config_option: Path | None) -> None:
    """Recent actions (all environments, or ENV): who, what, on which target, and how it ended."""
    from datetime import UTC, datetime

    from bot import config_file
    from bot.adapters.action_store import ActionStore
    from bot.domain.text import terminal_safe

    settings = Settings.from_env()
    config_path = config_file.config_path(config_option, settings.config_file)
    if env_name and (config_option or config_path.exists()):
        settings, _ = _environment(config_option, env_name)  # an unknown ENV is named, with suggestions
    store = ActionStore(settings.state_location)
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
            who = (
                f"{row.actor} (os user {row.os_user})"
                if row.os_user and row.os_user != row.actor
                else row.actor
            )
            line = f"{when}  {row.environment}  {who}  {what}  {row.outcome}: {row.message}"
            click.echo(terminal_safe(line))
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

    store = SlackStore(Settings.from_env().state_location)
    try:
        rows = store.feedback_summary(limit)
    finally:
        store.close()
    for row in rows:
        status = "unanswered" if not row.confident else f"+{row.votes_up} -{row.votes_down} {row.entry_id}"
        click.echo(f"{status:40} {row.question}")
    if not rows:
        click.echo("no feedback recorded yet")


@kb.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write drafts (default: $DEPLOYBOT_KNOWLEDGE_DIR/drafts, else ./knowledge/drafts).",
)
@handles_errors
def kb_import(paths: tuple[Path, ...], out: Path | None) -> None:
    """Turn a team's own docs (Markdown, HTML, text) into draft entries, split by heading or question."""
    from bot.adapters import doc_import

    target = out or _drafts_folder()
    report = doc_import.import_docs(list(paths), target)
    for path in report.written:
        click.echo(f"draft: {path}")
    for path, why in report.skipped:
        click.echo(f"skipped: {path}: {why}")
    click.echo(
        f"{len(report.written)} draft entries in {target}; review them, then drop `draft: true` to publish."
    )


def _drafts_folder() -> Path:
    """Drafts go next to an editable knowledge folder: $DEPLOYBOT_KNOWLEDGE_DIR, else ./knowledge.

    Never into the entries shipped inside the installed package (site-packages).
    """
    import os

    from bot.config import PACKAGE_DIR
    from bot.errors import UsageError

    configured = os.environ.get("DEPLOYBOT_KNOWLEDGE_DIR")
    target = (Path(configured).expanduser() if configured else Path.cwd() / "knowledge") / "drafts"
    if target.resolve().is_relative_to(PACKAGE_DIR.resolve()):
        raise UsageError(f"{target} is inside the installed package; pass --out DIR for the drafts")
    return target
