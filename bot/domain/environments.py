"""Environments from deploybot.yaml: parsed and validated as data, every problem named.

Pure: the caller reads the file and hands over the parsed YAML and where it came from, so
an error can say "deploybot.yaml: environments.shop-prod.selector: ...".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from bot.domain.diagnosis_types import PAUSED_WARNING_AFTER, SEVERITIES
from bot.domain.incidents import Policy

ENVIRONMENT_KEYS = frozenset(
    {
        "namespace",
        "selector",
        "context",
        "protected",
        "operators",
        "kubeconfig",
        "max_replicas",
        "channel",
        "notify",
        "paused_warning_after",
    }
)
NOTIFY_KEYS = frozenset(
    {
        "min_severity",
        "codes",
        "release_orders",
        "debounce_seconds",
        "resolve_after_seconds",
        "replies_per_minute",
    }
)
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,}$")
#: `scale --replicas N` above this needs the count typed again (`max_replicas` per environment)
DEFAULT_MAX_REPLICAS = 50
TOP_LEVEL_KEYS = frozenset({"environments"})

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_PREFIX = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_KEY = re.compile(rf"^({_LABEL_PREFIX}/)?{_LABEL_NAME}$")
_VALUE = re.compile(rf"^({_LABEL_NAME})?$")
_SET_REQUIREMENT = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s+\((?P<values>[^()]*)\)$")
_EQUALITY = re.compile(r"^(?P<key>[^=!\s]+)\s*(?P<op>==|=|!=)\s*(?P<value>\S*)$")
_EXISTS = re.compile(r"^(?P<neg>!?)\s*(?P<key>\S+)$")
_OPERATOR_ID = re.compile(r"^[UWS][A-Z0-9]{2,}$")


@dataclass(frozen=True)
class Environment:
    name: str
    namespace: str
    selector: str = ""
    context: str | None = None
    kubeconfig: str | None = None
    protected: bool = False
    operators: tuple[str, ...] = ()
    #: a scale above this needs an explicit second confirmation (see `deploybot act --help`)
    max_replicas: int = DEFAULT_MAX_REPLICAS
    #: the on-call channel (Slack id) where `serve` posts incidents; None: it only answers
    channel: str | None = None
    #: what is worth posting there
    notify: Policy = field(default_factory=Policy)
    #: seconds a release order may wait paused before it is a warning (it blocks the next release)
    paused_warning_after: float = PAUSED_WARNING_AFTER


@dataclass(frozen=True)
class Config:
    origin: str
    environments: Mapping[str, Environment]
    #: valid but probably not what was meant (operators on an unprotected environment)
    warnings: tuple[str, ...] = ()

    def names(self) -> list[str]:
        return sorted(self.environments)


def closest_names(config: Config, wanted: str, limit: int = 3) -> list[str]:
    """Names that look like what the person typed (shop-prd -> shop-prod)."""
    found = process.extract(wanted, config.names(), scorer=fuzz.WRatio, limit=limit, score_cutoff=60)
    return [candidate for candidate, _, _ in found]


def selector_problem(selector: str) -> str | None:
    """Why a label selector is invalid, in Kubernetes' own grammar; None when it is fine."""
    for requirement in _split_requirements(selector):
        requirement = requirement.strip()
        if not requirement:
            return "empty requirement (two commas, or a trailing comma)"
        if match := _SET_REQUIREMENT.match(requirement):
            key, values = match["key"], [v.strip() for v in match["values"].split(",")]
            bad_values = [v for v in values if not _VALUE.match(v)]
            if bad_values:
                return f"invalid value {bad_values[0]!r} in {requirement!r}"
        elif match := _EQUALITY.match(requirement):
            key = match["key"]
            if not _VALUE.match(match["value"]):
                return f"invalid value {match['value']!r} in {requirement!r}"
        elif match := _EXISTS.match(requirement):
            key = match["key"]
        else:
            return f"cannot parse {requirement!r}"
        if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
            return f"invalid label key {key!r}"
    return None


def _split_requirements(selector: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_config(data: Any, origin: str) -> tuple[Config, list[str]]:
    """The config and every problem found ("deploybot.yaml: environments.shop.namespace: missing")."""
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        return Config(origin, {}), [f"{origin}: expected a mapping with an `environments` key"]
    for key in sorted(set(data) - TOP_LEVEL_KEYS):
        problems.append(f"{origin}: {key}: unknown key (expected: environments)")
    raw_envs = data.get("environments") or {}
    if not isinstance(raw_envs, Mapping):
        return Config(origin, {}), [
            *problems,
            f"{origin}: environments: expected a mapping of name -> settings",
        ]
    environments: dict[str, Environment] = {}
    warnings: list[str] = []
    for raw_name, raw in raw_envs.items():
        env_name = str(raw_name)
        where = f"{origin}: environments.{env_name}"
        env, env_problems = _parse_environment(env_name, raw, where)
        problems.extend(env_problems)
        if env is not None:
            environments[env_name] = env
            if env.operators and not env.protected:
                warnings.append(
                    f"{where}: operators are listed but protected is not true, so anyone may change"
                    " this environment; add `protected: true` (or drop operators)"
                )
    return Config(origin, environments, tuple(warnings)), problems


def _parse_environment(env_name: str, raw: Any, where: str) -> tuple[Environment | None, list[str]]:
    problems: list[str] = []
    if not _NAME.match(env_name):
        problems.append(f"{where}: invalid name (lowercase letters, digits and '-')")
    if not isinstance(raw, Mapping):
        return None, [*problems, f"{where}: expected a mapping with at least `namespace`"]
    for key in sorted(set(raw) - ENVIRONMENT_KEYS):
        problems.append(
            f"{where}.{key}: unknown key (expected one of: {', '.join(sorted(ENVIRONMENT_KEYS))})"
        )
    namespace = raw.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        problems.append(f"{where}.namespace: missing (the Kubernetes namespace of this environment)")
    elif not _NAME.match(namespace) or len(namespace) > 63:
        problems.append(f"{where}.namespace: {namespace!r} is not a valid namespace name")
    selector = raw.get("selector") or ""
    if not isinstance(selector, str):
        problems.append(f"{where}.selector: expected a string like app=shop,env=prod")
        selector = ""
    elif selector and (why := selector_problem(selector)):
        problems.append(f"{where}.selector: {why}")
    for key in ("context", "kubeconfig"):
        if raw.get(key) is not None and not isinstance(raw.get(key), str):
            problems.append(f"{where}.{key}: expected a string")
    protected = raw.get("protected", False)
    if not isinstance(protected, bool):
        problems.append(f"{where}.protected: expected true or false")
    operators = _operators(raw.get("operators"), f"{where}.operators", problems)
    max_replicas = raw.get("max_replicas", DEFAULT_MAX_REPLICAS)
    if isinstance(max_replicas, bool) or not isinstance(max_replicas, int) or max_replicas < 1:
        problems.append(
            f"{where}.max_replicas: expected a whole number of at least 1 (the largest scale that needs"
            f" no second confirmation; default {DEFAULT_MAX_REPLICAS}), got {max_replicas!r}"
        )
    channel = raw.get("channel")
    if channel is not None and (not isinstance(channel, str) or not _CHANNEL_ID.match(channel)):
        problems.append(f"{where}.channel: {channel!r} is not a Slack channel id (C…/G…, not the #name)")
    notify = _notify(raw.get("notify"), f"{where}.notify", problems)
    paused_warning_after = _duration(
        raw.get("paused_warning_after", PAUSED_WARNING_AFTER), f"{where}.paused_warning_after", problems
    )
    if problems:
        return None, problems
    return (
        Environment(
            name=env_name,
            namespace=str(namespace),
            selector=selector.strip(),
            context=raw.get("context"),
            kubeconfig=raw.get("kubeconfig"),
            protected=bool(protected),
            operators=operators,
            max_replicas=int(max_replicas),
            channel=channel,
            notify=notify,
            paused_warning_after=paused_warning_after,
        ),
        [],
    )


_DURATION = re.compile(r"^(?P<number>\d+(\.\d+)?)\s*(?P<unit>s|m|h)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600}


def _duration(raw: Any, where: str, problems: list[str]) -> float:
    """Seconds from 600, 90s, 10m or 1h (what people write in YAML)."""
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw >= 0:
        return float(raw)
    match = _DURATION.match(raw.strip()) if isinstance(raw, str) else None
    if match is None:
        problems.append(f"{where}: expected seconds or a duration like 90s, 10m, 1h; got {raw!r}")
        return PAUSED_WARNING_AFTER
    return float(match["number"]) * _UNIT_SECONDS[match["unit"] or "s"]


def _notify(raw: Any, where: str, problems: list[str]) -> Policy:
    if raw is None:
        return Policy()
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected a mapping ({', '.join(sorted(NOTIFY_KEYS))})")
        return Policy()
    for key in sorted(set(raw) - NOTIFY_KEYS):
        problems.append(f"{where}.{key}: unknown key (expected one of: {', '.join(sorted(NOTIFY_KEYS))})")
    severity = raw.get("min_severity", "warning")
    if severity not in SEVERITIES:
        problems.append(f"{where}.min_severity: {severity!r} is not one of {', '.join(SEVERITIES)}")
        severity = "warning"
    codes = raw.get("codes") or []
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        problems.append(f"{where}.codes: expected a list of finding codes like [CrashLoop, ImagePullFailed]")
        codes = []
    release_orders = raw.get("release_orders", True)
    if not isinstance(release_orders, bool):
        problems.append(f"{where}.release_orders: expected true or false")
        release_orders = True
    numbers: dict[str, float] = {}
    for key, default in (
        ("debounce_seconds", 60.0),
        ("resolve_after_seconds", 300.0),
        ("replies_per_minute", 3),
    ):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(f"{where}.{key}: expected a number of 0 or more, got {value!r}")
            value = default
        numbers[key] = float(value)
    return Policy(
        debounce_seconds=numbers["debounce_seconds"],
        resolve_after_seconds=numbers["resolve_after_seconds"],
        replies_per_minute=int(numbers["replies_per_minute"]),
        min_severity=str(severity),
        codes=frozenset(codes),
        release_orders=release_orders,
    )


def _operators(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        problems.append(f"{where}: expected a list of Slack user or user-group ids like [U012ABCDEF]")
        return ()
    found: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not _OPERATOR_ID.match(item):
            problems.append(f"{where}: {item!r} is not a Slack user (U…/W…) or user-group (S…) id")
        else:
            found.append(item)
    return tuple(found)
