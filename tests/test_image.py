"""The image, built the way `docker build` builds it, without a Docker engine.

The build context is made by the Docker SDK for Python from `.dockerignore` (Docker's matching rules,
`!` exceptions included), and the Dockerfile (read with dockerfile-parse) is played instruction by
instruction into scratch folders, one per stage: COPY copies what Docker would copy (a source the
context lacks fails the build, as in Docker), RUN runs its commands with paths moved under the stage's
folder, ENV and USER apply. Then, with the install read-only, the image's commands run as its non-root
uid: `deploybot ask`, `deploybot doctor` and the ENTRYPOINT (`deploybot serve`, /healthz and /readyz).

What is not the image: the base image's Python is this machine's Python of the same minor version, and
the pip install of the build stage uses `--no-deps --no-build-isolation` to stay fast and offline: the
dependencies are linked in from this virtualenv (only those deploybot's installed metadata asks for),
the build backend (hatchling) comes from the test extra.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO
from tests.needs import need
from tests.slack_harness import LoopThread, start_fake_slack

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"


# ---------------------------------------------------------------- the build context


def dockerignore_patterns(context: Path) -> list[str]:
    """`.dockerignore` as the Docker SDK reads it: stripped lines, blank and `#` lines dropped."""
    path = context / ".dockerignore"
    if not path.exists():
        return []
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def build_context(source: Path, into: Path) -> list[str]:
    """Unpack the tarball `docker build` would send for `source`; returns the member names."""
    from docker.utils import build as docker_build

    archive = docker_build.tar(
        str(source), exclude=dockerignore_patterns(source), dockerfile=("Dockerfile", None)
    )
    with tarfile.open(fileobj=archive) as tar:
        names = tar.getnames()
        tar.extractall(into, filter="tar")
    archive.close()
    return names


# ---------------------------------------------------------------- playing the Dockerfile


@dataclass
class Stage:
    name: str
    root: Path
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    user: str = "0:0"
    entrypoint: list[str] = field(default_factory=list)

    def path(self, inside: str) -> Path:
        """A path of the image, in this stage's folder (relative ones from WORKDIR)."""
        absolute = inside if inside.startswith("/") else f"{self.workdir.rstrip('/')}/{inside}"
        return self.root / absolute.lstrip("/")

    def move(self, token: str) -> str:
        """Move an absolute path, alone or as the value of `--flag=/path`, under this stage's folder."""
        if token.startswith("/"):
            return str(self.path(token))
        flag, sep, value = token.partition("=")
        if flag.startswith("-") and sep and value.startswith("/"):
            return f"{flag}={self.path(value)}"
        return token


@dataclass
class Image:
    context: Path
    stages: list[Stage]
    python: str  # this machine's stand-in for the base image's Python
    deps: Path  # the runtime dependencies, linked from this virtualenv
    users: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    @property
    def uid(self) -> int:
        return self.user_id(self.final.user.split(":")[0], self.users)

    @property
    def gid(self) -> int:
        _, _, group = self.final.user.partition(":")
        return self.user_id(group, self.groups) if group else self.uid

    @staticmethod
    def user_id(name: str, known: dict[str, int]) -> int:
        return int(name) if name.isdigit() else known[name]

    def site_packages(self, stage: Stage, prefix: str = "/usr/local") -> Path:
        return stage.path(f"{prefix}/lib/{PY}/site-packages")

    def environ(self, stage: Stage, **extra: str) -> dict[str, str]:
        """The process environment inside `stage`: its ENV (paths moved), its PATH and Python path."""
        env = {key: stage.move(value) for key, value in stage.env.items()}
        home = stage.path("/var/lib/deploybot") if stage is self.final else stage.root
        return {
            "PATH": f"{stage.path('/usr/local/bin')}:/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PYTHONNOUSERSITE": "1",
            "PYTHONPATH": f"{self.site_packages(stage)}:{self.deps}",
            **env,
            **extra,
        }

    def command(self, stage: Stage, argv: list[str]) -> list[str]:
        """`deploybot …` is the console script pip installed, run by the image's Python."""
        if argv[0] == "deploybot":
            return [self.python, str(stage.path("/usr/local/bin/deploybot")), *argv[1:]]
        return argv

    def run_as_image_user(self, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(self.final, argv),
            env=self.environ(self.final, **env),
            cwd=self.final.path(self.final.workdir),
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=60,
        )


def play(dockerfile: Path, context: Path, scratch: Path, python: str) -> Image:
    from dockerfile_parse import DockerfileParser

    image = Image(context=context, stages=[], python=python, deps=scratch / "deps")
    for instruction in DockerfileParser(path=str(dockerfile)).structure:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(image.stages))
            image.stages.append(Stage(name=name, root=scratch / f"stage-{name}"))
            image.final.root.mkdir(parents=True)
        elif kind == "WORKDIR":
            image.final.workdir = value
            image.final.path(value).mkdir(parents=True, exist_ok=True)
        elif kind == "ENV":
            for pair in shlex.split(value):
                key, _, val = pair.partition("=")
                image.final.env[key] = val
        elif kind == "COPY":
            copy(image, shlex.split(value))
        elif kind == "RUN":
            for step in value.split("&&"):
                run_step(image, shlex.split(step))
        elif kind == "USER":
            image.final.user = value
        elif kind == "ENTRYPOINT":
            image.final.entrypoint = json.loads(value)
        elif kind not in ("COMMENT", "VOLUME", "EXPOSE"):
            raise AssertionError(f"tests/test_image.py cannot play the Dockerfile's {kind}: teach it")
    return image


def copy(image: Image, words: list[str]) -> None:
    flags = {w.split("=", 1)[0]: w.split("=", 1)[1] for w in words if w.startswith("--")}
    *sources, dest = [w for w in words if not w.startswith("--")]
    stage = image.final
    origin = next(s for s in image.stages if s.name == flags["--from"]).root if "--from" in flags else None
    for source in sources:
        src = (origin / source.lstrip("/")) if origin else image.context / source
        if not src.exists():
            raise AssertionError(f"COPY failed: {source} not found in the build context (.dockerignore?)")
        target = stage.path(dest)
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True, symlinks=True)
        else:
            if dest.endswith("/") or len(sources) > 1:
                target = target / src.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def run_step(image: Image, argv: list[str]) -> None:
    stage = image.final
    program, args = argv[0], argv[1:]
    if program in ("groupadd", "useradd"):  # recorded, never done to this machine
        number = args[args.index("--gid" if program == "groupadd" else "--uid") + 1]
        (image.groups if program == "groupadd" else image.users)[args[-1]] = int(number)
        return
    if program == "pip" and args[:1] == ["install"]:
        if "--upgrade" in args and args[-1] == "pip":
            return  # upgrading the base image's pip changes nothing the image ships
        # Fast and offline: no dependencies (linked from this virtualenv below) and the build backend
        # from the test extra; the project itself is built from the copied context, as in Docker.
        # --ignore-installed: with --prefix alone pip would first uninstall this virtualenv's deploybot.
        argv = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        argv += ["--ignore-installed", "--no-warn-script-location", *[stage.move(a) for a in args[1:]]]
    elif program == "chown":
        names = {**image.users}
        args = [_numeric_owner(a, names, image.groups) for a in args]
        argv = ["chown", *[stage.move(a) for a in args]]
    elif program in ("mkdir", "chmod"):
        argv = [program, *[stage.move(a) for a in args]]
    elif program == "deploybot":
        argv = image.command(stage, [program, *[stage.move(a) for a in args]])
    else:
        raise AssertionError(f"tests/test_image.py cannot run `{program}` from the Dockerfile: teach it")
    installed_here = _installed_here()
    done = subprocess.run(
        argv,
        cwd=stage.path(stage.workdir),
        env=image.environ(stage),
        capture_output=True,
        text=True,
        umask=0o022,  # Docker's RUN umask
        timeout=300,
    )
    assert done.returncode == 0, f"RUN {shlex.join(argv)} failed:\n{done.stdout}\n{done.stderr}"
    if program == "pip":
        assert installed_here == _installed_here(), "the image's pip install changed this virtualenv"
        link_dependencies(image.site_packages(stage, prefix=_prefix(args)), image.deps)


def _installed_here() -> str | None:
    """Where this virtualenv's deploybot lives (the developer's editable install), if anywhere."""
    try:
        return str(importlib.metadata.distribution("deploybot")._path)  # type: ignore[attr-defined]
    except importlib.metadata.PackageNotFoundError:
        return None


def _numeric_owner(word: str, users: dict[str, int], groups: dict[str, int]) -> str:
    user, sep, group = word.partition(":")
    if not sep or word.startswith("-"):
        return word
    return f"{Image.user_id(user, users)}:{Image.user_id(group, groups)}"


def _prefix(args: list[str]) -> str:
    return next(a.split("=", 1)[1] for a in args if a.startswith("--prefix="))


def link_dependencies(site_packages: Path, into: Path) -> None:
    """What `pip install` without --no-deps would have added: every distribution deploybot's
    installed metadata requires, transitively, hard-linked (or copied) from this virtualenv."""
    [info] = site_packages.glob("deploybot-*.dist-info")
    todo = [(r, "") for r in importlib.metadata.PathDistribution(info).requires or []]
    seen: set[tuple[str, str]] = set()
    while todo:
        line, extra = todo.pop()
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        wanted = [(requirement.name, "")] + [(requirement.name, e) for e in requirement.extras]
        for name, with_extra in wanted:
            if (name.lower(), with_extra) in seen:
                continue
            seen.add((name.lower(), with_extra))
            dist = importlib.metadata.distribution(name)
            todo += [(r, with_extra) for r in dist.requires or []]
            for entry in dist.files or []:
                source = Path(str(entry.locate()))
                if entry.parts[0] == ".." or not source.is_file():
                    continue
                target = into / entry
                target.parent.mkdir(parents=True, exist_ok=True)
                if not target.exists():
                    try:
                        os.link(source, target)
                    except OSError:
                        shutil.copy2(source, target)


# ---------------------------------------------------------------- fixtures


def runnable_by(python: str, uid: int) -> bool:
    try:
        probe = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[:2])"],
            user=uid,
            group=uid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except OSError:
        return False
    return probe.returncode == 0 and probe.stdout.strip() == str(tuple(sys.version_info[:2]))


def image_python(uid: int) -> str:
    """A Python of this minor version that the image's uid may run (pyenv's lives in root's home)."""
    candidates = [str(Path(sys.executable).resolve()), f"/usr/local/bin/{PY}", f"/usr/bin/{PY}"]
    for candidate in candidates:
        if Path(candidate).exists() and runnable_by(candidate, uid):
            return candidate
    need(f"a {PY} runnable by uid {uid}", f"none of {', '.join(candidates)} is")


@pytest.fixture(scope="module")
def image() -> Iterator[Image]:
    if os.geteuid() != 0:
        need("root", "to chown like the Dockerfile and run the image's commands as its uid")
    try:
        import dockerfile_parse  # noqa: F401
        from docker.utils import build  # noqa: F401
    except ImportError:
        need("dockerfile-parse and docker", "pip install '.[test]'")
    # Under /tmp, readable by the image's uid (pytest's own tmp folders are root's only).
    scratch = Path(tempfile.mkdtemp(prefix="deploybot-image-"))
    scratch.chmod(0o755)
    try:
        context = scratch / "context"
        context.mkdir()
        build_context(REPO, context)
        uid = final_uid(context / "Dockerfile")
        built = play(context / "Dockerfile", context, scratch, python=image_python(uid))
        assert (built.uid, built.gid) == (10001, 10001)  # what the chart's securityContext runs as
        made_read_only(built)
        yield built
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def final_uid(dockerfile: Path) -> int:
    from dockerfile_parse import DockerfileParser

    users = [
        i["value"] for i in DockerfileParser(path=str(dockerfile)).structure if i["instruction"] == "USER"
    ]
    assert users and users[-1].split(":")[0].isdigit(), "the image must run as a numeric, non-root uid"
    uid = int(users[-1].split(":")[0])
    assert uid != 0
    return uid


def made_read_only(image: Image) -> None:
    """The container's root filesystem is read-only: nothing but the data volume is writable by its uid."""
    subprocess.run(["chmod", "-R", "a-w", str(image.final.path("/usr/local"))], check=True)
    for folder, dirs, _ in os.walk(image.deps):  # the linked files are this virtualenv's: leave them
        for d in dirs:
            Path(folder, d).chmod(0o555)


@pytest.fixture(scope="module")
def slack_url() -> Iterator[str]:
    loop = LoopThread()
    fake, _ = start_fake_slack(loop)
    yield fake.url
    loop.stop()


def knowledge_db(image: Image) -> Path:
    return image.final.path(image.final.env["DEPLOYBOT_KNOWLEDGE_DB"])


def fingerprint(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


# ---------------------------------------------------------------- tests


def test_the_context_is_what_docker_sends(tmp_path: Path) -> None:
    names = set(build_context(REPO, tmp_path))
    assert "helm/deploybot/files/rbac-rules.yaml" in names  # force-included by pyproject.toml
    assert {"Dockerfile", "pyproject.toml", "README.md", "bot/cli.py"} <= names
    assert not [n for n in names if n.split("/")[0] in ("tests", ".git", "benchmarks")]
    assert not [n for n in names if n.startswith(".venv") or "__pycache__" in n or ".sqlite" in n]
    assert not [n for n in names if n.startswith("helm/") and not n.endswith("rbac-rules.yaml")]


def test_the_image_builds_and_ships_the_rules_and_a_compiled_base(image: Image) -> None:
    site = image.site_packages(image.final)
    assert (site / "bot" / "_rbac-rules.yaml").read_bytes() == (
        REPO / "helm" / "deploybot" / "files" / "rbac-rules.yaml"
    ).read_bytes()
    assert (site / "bot" / "_knowledge").is_dir()
    db = knowledge_db(image)
    mode = db.stat().st_mode
    assert mode & stat.S_IROTH and not mode & 0o222, f"{db}: mode {mode & 0o777:04o}"
    assert image.final.entrypoint == ["deploybot", "serve"]
    for path in [*image.final.path("/usr/local").rglob("*"), db]:  # read-only for the image's uid
        st = path.lstat()
        assert st.st_uid != image.uid and not st.st_mode & 0o002, path
    data = image.final.path("/var/lib/deploybot")
    assert (data.stat().st_uid, data.stat().st_gid) == (image.uid, image.gid)


def test_ask_as_the_image_user_reads_the_compiled_base_without_rebuilding(image: Image) -> None:
    db = knowledge_db(image)
    before = fingerprint(db)
    probe = image.run_as_image_user(
        [
            image.python,
            "-c",
            "import json, os; from bot.config import Settings; from bot.knowledge_base import is_fresh; "
            "s = Settings.from_env(); import bot; "
            "print(json.dumps([os.access(s.knowledge_db, os.R_OK), is_fresh(s), bot.__file__]))",
        ]
    )
    assert probe.returncode == 0, probe.stderr
    readable, fresh, package = json.loads(probe.stdout)
    assert readable and fresh
    assert package.startswith(str(image.site_packages(image.final)))  # the installed copy, not the repo
    asked = image.run_as_image_user(["deploybot", "ask", "容器一直重启怎么办"])
    assert asked.returncode == 0, asked.stderr
    assert "[crashloopbackoff]" in asked.stdout
    assert "in memory" not in asked.stderr and "rebuilding" not in asked.stderr, asked.stderr
    assert fingerprint(db) == before
    assert not (image.final.path("/var/lib/deploybot") / "knowledge.sqlite").exists()


def test_doctor_as_the_image_user_is_green_and_names_an_unreadable_base(image: Image, slack_url: str) -> None:
    config = image.final.path("/etc/deploybot/deploybot.yaml")
    config.write_text("environments: {}\n")  # what the chart's ConfigMap mounts
    slack = {
        "SLACK_BOT_TOKEN": "xoxb-good",
        "SLACK_SIGNING_SECRET": "s",
        "SLACK_API_URL": slack_url + "/api/",
    }
    done = image.run_as_image_user(["deploybot", "doctor"], **slack)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✔ knowledge base:" in done.stdout and "entries" in done.stdout
    assert str(knowledge_db(image)) in done.stdout
    # The image the platform engineer had: the base root's own (0400). doctor must not say ✔.
    db = knowledge_db(image)
    db.chmod(0o400)
    try:
        broken = image.run_as_image_user(["deploybot", "doctor"], **slack)
        asked = image.run_as_image_user(["deploybot", "ask", "容器一直重启怎么办"])
    finally:
        db.chmod(0o444)
    assert broken.returncode == 1
    assert "✖ knowledge base:" in broken.stdout and "compiled in memory at every start" in broken.stdout
    assert f"not readable by uid {image.uid} (mode 0400, owner uid 0)" in broken.stdout
    assert asked.returncode == 0 and "in memory" in asked.stderr  # still answers, slowly: the bug


def test_the_entrypoint_serves_health_as_the_image_user(image: Image, slack_url: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = image.final.path("/etc/deploybot/deploybot.yaml")
    config.write_text("environments: {}\n")
    log = image.final.path("/var/lib/deploybot") / "serve.log"
    env = image.environ(
        image.final,
        PORT=str(port),  # `docker run -e PORT=…`: 3000 may be taken on this machine
        SLACK_BOT_TOKEN="xoxb-good",  # the fake Slack's valid token: serve calls auth.test first
        SLACK_SIGNING_SECRET="s",
        SLACK_API_URL=slack_url + "/api/",
        DEPLOYBOT_SLACK_MODE="http",
    )
    # ENTRYPOINT plus the chart's args
    args = [image.final.move(a) for a in ("--config", "/etc/deploybot/deploybot.yaml")]
    argv = image.command(image.final, [*image.final.entrypoint, *args])
    db = knowledge_db(image)
    before = fingerprint(db)
    with log.open("w") as out:
        process = subprocess.Popen(
            argv, env=env, user=image.uid, group=image.gid, extra_groups=[], stdout=out, stderr=out
        )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/readyz", process, log) == 200, log.read_text()
        assert http_get(f"http://127.0.0.1:{port}/healthz") == (200, "ok")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    output = log.read_text()
    assert "xoxb-good" not in output
    assert "in memory" not in output and "rebuilding" not in output, output
    assert fingerprint(db) == before


def http_get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return reply.status, reply.read().decode()


def wait_for(url: str, process: subprocess.Popen[Any], log: Path, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return http_get(url)[0]
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered (exit {process.poll()}): {log.read_text()[-3000:]}")
