"""The one rule for tests that need an external tool (node, npm, dockerd, the depot CLI...).

Importable from any test module: pytest puts ``tests/`` on sys.path (``pythonpath`` in
pyproject.toml).
"""

from __future__ import annotations

import os

import pytest


def require_tool(available: bool, reason: str) -> None:
    """Skip a test that needs a missing tool, except in CI, where a missing tool is a failure."""
    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: every tool CI installs must be present)")
    pytest.skip(reason)
