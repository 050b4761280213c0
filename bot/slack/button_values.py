"""Button values that carry their own meaning, signed: any replica, or the same pod after a
restart, can act on a click without a lookup, and a forged, edited or expired value is refused.

Format: `v1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(key, "v1." + payload)[:16])>`.
The payload names the environment, action, target, parameters and the state the button was
made against, an expiry, and a random nonce that is the click's idempotency key. The key comes
from DEPLOYBOT_BUTTON_KEY (the chart's Secret), else it is derived from the bot token, which
every replica shares: rotating either invalidates old buttons, which then say so.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VERSION = "v1"
#: Slack keeps messages forever; a button this old is refused and the user inspects again
TTL_SECONDS = 14 * 24 * 3600
#: Slack refuses a button value over 2,000 characters
MAX_VALUE = 2000


class BadButton(Exception):
    """The value was not made by us with this key, was edited, or has expired."""


@dataclass(frozen=True)
class ButtonSigner:
    key: bytes

    @classmethod
    def from_secret(cls, explicit: str | None, bot_token: str) -> ButtonSigner:
        if explicit:
            return cls(explicit.encode())
        derived = hmac.new(bot_token.encode(), b"deploybot button values v1", hashlib.sha256).digest()
        return cls(derived)

    def sign(self, payload: Mapping[str, Any], *, now: float, ttl: float = TTL_SECONDS) -> str:
        body = {**payload, "exp": int(now + ttl), "n": secrets.token_urlsafe(9)}
        encoded = _b64(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
        value = f"{VERSION}.{encoded}.{self._mac(encoded)}"
        if len(value) > MAX_VALUE:
            raise ValueError(f"button value of {len(value)} characters is over Slack's {MAX_VALUE}")
        return value

    def verify(self, value: str, *, now: float) -> dict[str, Any]:
        """The payload (with its nonce `n`), or BadButton saying why not."""
        parts = value.split(".") if len(value) <= MAX_VALUE else []
        if len(parts) != 3 or parts[0] != VERSION:
            raise BadButton("this button is not one of deploybot's (or from an older version); inspect again")
        _, encoded, mac = parts
        if not hmac.compare_digest(mac, self._mac(encoded)):
            raise BadButton("this button's value does not verify (edited, or signed with another key)")
        try:
            payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        except (binascii.Error, ValueError) as exc:
            raise BadButton(f"this button's value is unreadable: {exc}") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
            raise BadButton("this button's value is unreadable")
        if payload["exp"] < now:
            raise BadButton("this button has expired; inspect again for current buttons")
        return payload

    def _mac(self, encoded: str) -> str:
        digest = hmac.new(self.key, f"{VERSION}.{encoded}".encode(), hashlib.sha256).digest()
        return _b64(digest[:16])


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
