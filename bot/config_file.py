"""Reading deploybot.yaml: where it is, and YAML that refuses duplicate keys.

PyYAML keeps the last of two equal keys without a word; two environments with one name
are a mistake worth naming, so the loader here refuses them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from bot.domain.environments import Config, Environment, closest_names, parse_config
from bot.errors import ConfigError, UnknownEnvironment

DEFAULT_CONFIG = "deploybot.yaml"

log = logging.getLogger(__name__)


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def config_path(option: Path | None, from_env: Path | None) -> Path:
    """--config, else DEPLOYBOT_CONFIG, else ./deploybot.yaml."""
    return (option or from_env or Path(DEFAULT_CONFIG)).expanduser()


def load_config(path: Path) -> Config:
    if not path.exists():
        raise ConfigError(
            [f"{path}: not found (pass --config FILE, set DEPLOYBOT_CONFIG, or create ./{DEFAULT_CONFIG})"]
        )
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{where}: {problem}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read ({exc})"]) from None
    config, problems = parse_config(data, str(path))
    if problems:
        raise ConfigError(problems)
    for warning in config.warnings:
        log.warning("%s", warning)
    return config


def environment(config: Config, name: str) -> Environment:
    found = config.environments.get(name)
    if found is None:
        raise UnknownEnvironment(name, closest_names(config, name), config.names())
    return found
