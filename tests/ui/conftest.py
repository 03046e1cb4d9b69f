"""Fixtures of the UI tests; helpers live in uikit.py. The real stack is `running_stack`
(tests/conftest.py): one isolated stack per session, removed with `down -v` afterwards."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def messages() -> list[Any]:
    """Collects every message the app dispatches (harlequin-style message_hook)."""
    return []
