"""Shared fixtures: the shipped knowledge base compiled once into a temporary data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from bot.config import Settings
from bot.knowledge_base import KnowledgeBase
from tests.kube_cluster import cluster  # noqa: F401 - a fixture, shared by the cluster tests
from tests.postgres import postgres_server, postgres_url, state_location  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def load_yaml(name: str) -> object:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("deploybot-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    return Settings(knowledge_dir=REPO / "knowledge", data_dir=data_dir)


@pytest.fixture(scope="session")
def kb(settings: Settings) -> Iterator[KnowledgeBase]:
    base = KnowledgeBase.open(settings)
    yield base
    base.close()


def run_cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed entry point for real: a fresh process, as a user would."""
    full_env = {**os.environ, **(env or {})}
    script = Path(sys.executable).with_name("deploybot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )
