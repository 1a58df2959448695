"""Session fixtures for every test area that needs a real BuildKit (tests/buildkit, tests/interop):
one private dockerd for the whole session, its embedded BuildKit as a plain tcp:// endpoint.
Registered for the whole suite by tests/conftest.py (``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from required_tools import require_tool

if TYPE_CHECKING:
    from airflow_provider_depot.emulator.local_buildkit import LocalBuildKit


@pytest.fixture(scope="session")
def local_buildkit() -> Iterator[LocalBuildKit]:
    """A running LocalBuildKit for the whole session (dockerd starts once, stops at the end)."""
    # Imported here: a session that needs no BuildKit does not pay for it.
    from airflow_provider_depot.emulator.local_buildkit import LocalBuildKit, buildkit_unavailable_reason

    reason = buildkit_unavailable_reason()
    require_tool(
        reason is None, f"a local BuildKit cannot run here: {reason} (run scripts/install_build_tools.sh)"
    )
    with LocalBuildKit() as buildkit:
        yield buildkit
