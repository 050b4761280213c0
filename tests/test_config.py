"""deploybot.yaml: valid configs load; every mistake is named by file, environment and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import config_file
from bot.domain.environments import selector_problem
from bot.errors import ConfigError, UnknownEnvironment

GOOD = """
environments:
  shop-prod:
    namespace: shop
    selector: app=shop,env in (prod, canary),!legacy
    context: prod
    protected: true
    operators: [U012ABCDEF, S0PLATFORM]
  shop-staging:
    namespace: shop-staging
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deploybot.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_config_loads_with_defaults(tmp_path: Path) -> None:
    config = config_file.load_config(write(tmp_path, GOOD))
    prod = config_file.environment(config, "shop-prod")
    assert (prod.namespace, prod.context, prod.protected) == ("shop", "prod", True)
    assert prod.operators == ("U012ABCDEF", "S0PLATFORM")
    staging = config.environments["shop-staging"]
    assert (staging.selector, staging.protected, staging.operators) == ("", False, ())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "environments:\n  shop:\n    namespace: shop\n    namspace: x\n",
            "environments.shop.namspace: unknown key",
        ),
        ("environments:\n  shop:\n    selector: app=shop\n", "environments.shop.namespace: missing"),
        (
            "environments:\n  shop:\n    namespace: Shop_NS\n",
            "environments.shop.namespace: 'Shop_NS' is not a valid",
        ),
        (
            "environments:\n  shop:\n    namespace: s\n    selector: 'app=,=x'\n",
            "environments.shop.selector:",
        ),
        (
            "environments:\n  shop:\n    namespace: s\n    protected: yes please\n",
            "environments.shop.protected:",
        ),
        ("environments:\n  shop:\n    namespace: s\n    operators: alice\n", "environments.shop.operators:"),
        ("environments:\n  shop:\n    namespace: s\n    operators: [alice]\n", "'alice' is not a Slack user"),
        ("environmnets: {}\n", "environmnets: unknown key"),
        ("environments:\n  shop: {namespace: a}\n  shop: {namespace: b}\n", "duplicate key 'shop'"),
        ("environments: [shop]\n", "environments: expected a mapping"),
        ("environments:\n  shop:\n    namespace: [unclosed\n", "deploybot.yaml:"),
    ],
)
def test_bad_config_names_file_environment_and_field(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_file.load_config(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message
    assert "deploybot.yaml" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = "environments:\n  a:\n    namespace: ok\n    bogus: 1\n  b:\n    selector: 'x in (a'\n"
    with pytest.raises(ConfigError) as caught:
        config_file.load_config(write(tmp_path, text))
    assert len(caught.value.problems) >= 3


def test_missing_config_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found .*--config.*DEPLOYBOT_CONFIG"):
        config_file.load_config(tmp_path / "nope.yaml")


def test_config_path_precedence(tmp_path: Path) -> None:
    option, from_env = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert config_file.config_path(option, from_env) == option
    assert config_file.config_path(None, from_env) == from_env
    assert config_file.config_path(None, None) == Path("deploybot.yaml")


def test_unknown_environment_suggests_the_closest_names(tmp_path: Path) -> None:
    config = config_file.load_config(write(tmp_path, GOOD))
    with pytest.raises(UnknownEnvironment) as caught:
        config_file.environment(config, "shop-prd")
    assert "no such environment: 'shop-prd'" in str(caught.value)
    assert caught.value.suggestions[0] == "shop-prod"
    with pytest.raises(UnknownEnvironment, match="known: shop-prod, shop-staging"):
        config_file.environment(config, "zzzzzz")


@pytest.mark.parametrize(
    "selector",
    [
        "app=shop",
        "app==shop,env!=dev",
        "tier in (web, api)",
        "env notin (dev)",
        "canary",
        "!legacy",
        "example.com/team=payments",
        "app.kubernetes.io/name=shop",
    ],
)
def test_valid_selectors(selector: str) -> None:
    assert selector_problem(selector) is None


@pytest.mark.parametrize(
    "selector",
    ["app=shop,", "=shop", "app=sh op", "tier in (web", "-bad=x", "a" * 64 + "=x", "app=shop!"],
)
def test_invalid_selectors(selector: str) -> None:
    assert selector_problem(selector) is not None


def test_channel_and_notify_are_validated() -> None:
    from bot.domain.environments import parse_config

    notify = {"min_severity": "critical", "codes": ["CrashLoop"], "debounce_seconds": 30}
    good = {"environments": {"shop": {"namespace": "shop", "channel": "C0ONCALL", "notify": notify}}}
    config, problems = parse_config(good, "deploybot.yaml")
    assert problems == []
    env = config.environments["shop"]
    assert env.channel == "C0ONCALL" and env.notify.min_severity == "critical"
    assert env.notify.codes == frozenset({"CrashLoop"}) and env.notify.debounce_seconds == 30
    bad = {"environments": {"shop": {"namespace": "shop", "channel": "#oncall",
           "notify": {"min_severity": "loud", "debounce_seconds": -1, "colour": "red"}}}}  # fmt: skip
    _, problems = parse_config(bad, "deploybot.yaml")
    text = "\n".join(problems)
    assert "channel: '#oncall' is not a Slack channel id" in text
    assert (
        "min_severity: 'loud'" in text and "debounce_seconds" in text and "notify.colour: unknown key" in text
    )


@pytest.mark.parametrize(("written", "seconds"), [(None, 600.0), (900, 900.0), ("90s", 90.0), ("10m", 600.0),
                                                  ("1.5h", 5400.0), (0, 0.0)])  # fmt: skip
def test_paused_warning_after_takes_seconds_or_a_duration(written: object, seconds: float) -> None:
    from bot.domain.environments import parse_config

    settings: dict[str, object] = {"namespace": "shop"}
    if written is not None:
        settings["paused_warning_after"] = written
    config, problems = parse_config({"environments": {"shop": settings}}, "deploybot.yaml")
    assert problems == []
    assert config.environments["shop"].paused_warning_after == seconds


@pytest.mark.parametrize("written", ["ten minutes", -5, True, "10d", [600]])
def test_paused_warning_after_refuses_what_is_not_a_duration(written: object) -> None:
    from bot.domain.environments import parse_config

    data = {"environments": {"shop": {"namespace": "shop", "paused_warning_after": written}}}
    config, problems = parse_config(data, "deploybot.yaml")
    assert config.environments == {}
    assert problems == [
        "deploybot.yaml: environments.shop.paused_warning_after: expected seconds or a duration"
        f" like 90s, 10m, 1h; got {written!r}"
    ]
