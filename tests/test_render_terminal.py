"""Terminal output never carries the cluster's control sequences: a termination message or an
event cannot clear the screen, retitle the window, plant a hyperlink or reverse a line."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.diagnosis import diagnose
from bot.domain.environments import Environment
from bot.domain.releases import release_orders
from bot.domain.report import summarize
from bot.domain.text import terminal_safe
from bot.inspection import InspectResult
from bot.render import inspection as render
from tests import k8s_objects as k
from tests.conftest import run_cli
from tests.kube_cluster import Cluster, kubeconfig_or_skip
from tests.test_inspect_cli import config, load

#: anything a terminal would act on: ESC, C0 but \t and \n, DEL, C1, bidi controls
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

NASTY = [
    ("colour", "\x1b[31mred\x1b[0m", "red"),
    ("clear screen and home", "a\x1b[2J\x1b[Hb", "ab"),
    ("private mode", "a\x1b[?1049hb", "ab"),
    ("8-bit CSI", "a\x9b2Jb", "ab"),
    ("OSC title, BEL", "a\x1b]0;pwned\x07b", "ab"),
    ("OSC hyperlink, ST", "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),
    ("OSC clipboard, 8-bit ST", "a\x1b]52;c;ZXZpbA==\x9cb", "ab"),
    ("OSC cut off", "a\x1b]0;never ends", "a"),
    ("DCS", "a\x1bP1$qm\x1b\\b", "ab"),
    ("APC", "a\x1b_payload\x1b\\b", "ab"),
    ("charset", "a\x1b(0b", "ab"),
    ("reset", "a\x1bcb", "ab"),
    ("lone ESC", "a\x1b", "a"),
    ("carriage return overwrite", "ok\rFAILED", "okFAILED"),
    ("backspace", "rm -rf /\x08\x08\x08\x08ls", "rm -rf /ls"),
    ("NUL, BEL, DEL, NEL", "a\x00b\x07c\x7fd\x85e", "abcde"),
    ("bidi override", "evil\u202etxt.exe\u202c", "eviltxt.exe"),
    ("bidi isolates", "\u2066a\u2067b\u2068c\u2069", "abc"),
    ("embeddings", "\u202aa\u202bb\u202dc", "abc"),
    ("newline and tab kept", "line 1\n\tline 2\r\n", "line 1\n\tline 2\n"),
    ("Chinese kept", "容器一直重启 ✖ ·", "容器一直重启 ✖ ·"),
]


@pytest.mark.parametrize(("text", "clean"), [(t, c) for _, t, c in NASTY], ids=[n for n, _, _ in NASTY])
def test_terminal_safe_strips_every_control(text: str, clean: str) -> None:
    assert terminal_safe(text) == clean


def nasty_environment() -> list[dict[str, object]]:
    message = " ".join(text for _, text, _ in NASTY[:-3]) + " the end"
    objects = k.web_workload(replicas=1, ready=0)
    crash = k.container_status(
        "web",
        state=k.waiting("CrashLoopBackOff", "back-off \x1b]0;title\x07"),
        last_state=k.terminated(1, "Error", finished=1.5, ran=0.1, message=message),
        ready=False,
        restarts=9,
    )
    pod = k.web_pod(0, status=k.pod_status(containers=[crash]))
    return [*objects, pod, k.event(pod, "BackOff", f"Back-off {message}", field_path=k.in_container())]


def test_inspection_text_report_carries_no_control_sequence() -> None:
    snapshot = k.snapshot(nasty_environment())
    orders = release_orders(snapshot)
    findings = diagnose(snapshot, orders)
    result = InspectResult(
        environment=Environment("shop-prod", k.NS),
        snapshot=snapshot,
        orders=orders,
        findings=findings,
        summary=summarize(snapshot, orders, findings),
        api_calls=0,
    )
    text = render.to_text(result)
    assert "CrashLoopBackOff" in text and "the end" in text
    assert not CONTROL.search(text), repr(CONTROL.search(text))


def test_deploybot_inspect_on_a_real_cluster_prints_no_control_sequence(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(k, "NOW", datetime.now(UTC).replace(microsecond=0))
    ns = cluster.namespace()
    load(cluster, ns, nasty_environment())
    done = run_cli(
        "inspect",
        "shop-prod",
        "--config",
        str(config(tmp_path, ns)),
        env={"KUBECONFIG": kubeconfig_or_skip()},
    )
    assert "CrashLoopBackOff" in done.stdout, done.stdout + done.stderr
    assert "the end" in done.stdout  # the message is kept, its controls are not
    assert not CONTROL.search(done.stdout.replace("\n", "")), repr(done.stdout)


def test_answers_text_carries_no_control_sequence(tmp_path: Path) -> None:
    done = run_cli(
        "ask", "容器一直重启 \x1b]0;pwned\x07 怎么办 \x1b[2J", env={"DEPLOYBOT_DATA_DIR": str(tmp_path)}
    )
    assert done.returncode == 0, done.stderr
    assert not CONTROL.search(done.stdout.replace("\n", "").replace("\t", ""))
