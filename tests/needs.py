"""Tests that need something outside the repository (helm-sdkpy, a Kubernetes API server, PostgreSQL).

On a developer's machine a missing thing skips the test with the reason; in CI (`CI=true`, which
`.ci/run` runs under) it fails it, so a green CI never hides tests that did not run.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def need(thing: str, reason: str) -> NoReturn:
    """Call where `thing` turned out to be missing: skip locally, fail in CI."""
    message = f"needs {thing}: {reason}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: a skipped test is a failed one)", pytrace=False)
    pytest.skip(message)
