"""Signed button values: what one replica signs, any other verifies; nothing else passes."""

from __future__ import annotations

import base64
import json

import pytest

from bot.slack.button_values import MAX_VALUE, TTL_SECONDS, BadButton, ButtonSigner

NOW = 1_800_000_000.0
PAYLOAD = {
    "kind": "action",
    "environment": "shop-prod",
    "action": "scale",
    "target": "Deployment/shop-web",
    "params": {"replicas": "0"},
    "expected": "Deployment/shop-web@4",
}


def test_a_value_signed_by_one_replica_verifies_on_another() -> None:
    value = ButtonSigner.from_secret("chart-secret", "xoxb-1").sign(PAYLOAD, now=NOW)
    payload = ButtonSigner.from_secret("chart-secret", "xoxb-other").verify(value, now=NOW + 60)
    assert {k: payload[k] for k in PAYLOAD} == PAYLOAD
    assert payload["exp"] == int(NOW + TTL_SECONDS)
    assert len(value) < MAX_VALUE


def test_without_an_explicit_key_the_bot_token_is_the_shared_secret() -> None:
    value = ButtonSigner.from_secret(None, "xoxb-team").sign(PAYLOAD, now=NOW)
    assert (
        ButtonSigner.from_secret(None, "xoxb-team").verify(value, now=NOW)["target"] == "Deployment/shop-web"
    )
    with pytest.raises(BadButton, match="does not verify"):
        ButtonSigner.from_secret(None, "xoxb-rotated").verify(value, now=NOW)


def test_every_rendering_gets_its_own_nonce_the_clicks_idempotency_key() -> None:
    signer = ButtonSigner(b"k")
    first, second = signer.sign(PAYLOAD, now=NOW), signer.sign(PAYLOAD, now=NOW)
    assert signer.verify(first, now=NOW)["n"] != signer.verify(second, now=NOW)["n"]


def _edit(value: str, **changes: object) -> str:
    version, encoded, mac = value.split(".")
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    payload.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    return f"{version}.{forged}.{mac}"


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda v: _edit(v, params={"replicas": "100"}), "does not verify"),
        (lambda v: _edit(v, environment="shop-staging"), "does not verify"),
        (lambda v: _edit(v, exp=4_000_000_000), "does not verify"),
        (lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"), "does not verify"),
        (lambda v: "r-3f9cabc", "not one of deploybot's"),
        (lambda v: "v1.not-base64!.x", "does not verify"),
        (lambda v: "v2." + v.split(".", 1)[1], "not one of deploybot's"),
        (lambda v: "", "not one of deploybot's"),
        (lambda v: v + "." + "x" * 3000, "not one of deploybot's"),
    ],
)
def test_forged_or_edited_values_are_refused(tamper: object, reason: str) -> None:
    signer = ButtonSigner(b"chart-secret")
    value = signer.sign(PAYLOAD, now=NOW)
    with pytest.raises(BadButton, match=reason):
        signer.verify(tamper(value), now=NOW)  # type: ignore[operator]


def test_an_expired_value_is_refused() -> None:
    signer = ButtonSigner(b"chart-secret")
    value = signer.sign(PAYLOAD, now=NOW, ttl=60)
    assert signer.verify(value, now=NOW + 59)["action"] == "scale"
    with pytest.raises(BadButton, match="expired"):
        signer.verify(value, now=NOW + 61)


def test_a_signed_value_that_is_not_json_is_refused() -> None:
    signer = ButtonSigner(b"k")
    encoded = base64.urlsafe_b64encode(b"\xff\xfe not json").decode().rstrip("=")
    value = f"v1.{encoded}.{signer._mac(encoded)}"
    with pytest.raises(BadButton, match="unreadable"):
        signer.verify(value, now=NOW)


def test_a_value_too_long_for_slack_is_not_made() -> None:
    with pytest.raises(ValueError, match="over Slack's 2000"):
        ButtonSigner(b"k").sign({"question": "问" * 700}, now=NOW)
