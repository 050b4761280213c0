"""Settings from the environment: the only module that reads os.environ.

Environments (deploybot.yaml) are loaded by `load_environments` when a command needs them;
asking a question needs nothing but where the knowledge lives.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped_knowledge_dir() -> Path:
    """Entries inside the installed wheel, else the repository's knowledge/ (source checkout)."""
    packaged = PACKAGE_DIR / "_knowledge"
    if packaged.is_dir():
        return packaged
    return PACKAGE_DIR.parent / "knowledge"


def _default_data_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME", "~")).expanduser() / ".local" / "share")
    return Path(base) / "deploybot"


@dataclass(frozen=True)
class Settings:
    knowledge_dir: Path
    data_dir: Path
    #: DEPLOYBOT_CONFIG; `--config` wins over it, ./deploybot.yaml is the fallback
    config_file: Path | None = None
    #: DEPLOYBOT_KNOWLEDGE_DB: the compiled base, when it lives apart from the data folder
    #: (an image compiles it at build time; the data volume is mounted over data_dir)
    knowledge_db_override: Path | None = None
    #: DEPLOYBOT_DATABASE_URL: PostgreSQL shared by every replica; unset, SQLite in data_dir
    database_url: str | None = None
    #: DEPLOYBOT_BUTTON_KEY: signs button values (else derived from the bot token)
    button_key: str | None = None
    #: POD_NAMESPACE / POD_NAME (the chart sets them): where the on-call Lease lives, who holds it
    pod_namespace: str | None = None
    pod_name: str | None = None

    @property
    def knowledge_db(self) -> Path:
        return self.knowledge_db_override or self.data_dir / "knowledge.sqlite"

    @property
    def state_db(self) -> Path:
        """The embedded SQLite state: durable, unlike the compiled base."""
        return self.data_dir / "deploybot.sqlite"

    @property
    def state_location(self) -> str:
        """Where audit, idempotency keys, feedback and thread contexts live."""
        return self.database_url or str(self.state_db)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        knowledge = env.get("DEPLOYBOT_KNOWLEDGE_DIR")
        data = env.get("DEPLOYBOT_DATA_DIR")
        config_file = env.get("DEPLOYBOT_CONFIG")
        knowledge_db = env.get("DEPLOYBOT_KNOWLEDGE_DB")
        return cls(
            database_url=env.get("DEPLOYBOT_DATABASE_URL") or None,
            button_key=env.get("DEPLOYBOT_BUTTON_KEY") or None,
            pod_namespace=env.get("POD_NAMESPACE") or None,
            pod_name=env.get("POD_NAME") or env.get("HOSTNAME") or None,
            knowledge_db_override=Path(knowledge_db).expanduser() if knowledge_db else None,
            config_file=Path(config_file).expanduser() if config_file else None,
            knowledge_dir=Path(knowledge).expanduser() if knowledge else _shipped_knowledge_dir(),
            data_dir=Path(data).expanduser() if data else _default_data_dir(env),
        )
