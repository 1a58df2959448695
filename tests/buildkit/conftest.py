"""Session fixtures for the BuildKit tests: one private dockerd (its embedded BuildKit as a plain
tcp:// endpoint) and docker buildx as the BuildKit client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from buildx_tools import Buildx, make_buildx, require

from airflow_provider_depot.emulator.local_buildkit import LocalBuildKit, buildkit_unavailable_reason


@pytest.fixture(scope="session")
def local_buildkit() -> Iterator[LocalBuildKit]:
    """A running LocalBuildKit for the whole session (dockerd starts once)."""
    reason = buildkit_unavailable_reason()
    require(reason is None, f"a local BuildKit cannot run here: {reason}")
    with LocalBuildKit() as buildkit:
        yield buildkit


@pytest.fixture(scope="session")
def buildx(tmp_path_factory: pytest.TempPathFactory) -> Buildx:
    return make_buildx(tmp_path_factory.mktemp("docker-config"))


@pytest.fixture
def build_context(tmp_path: Path) -> Path:
    """A `FROM scratch` build context that COPYs a few files, text and binary, one nested."""
    context = tmp_path / "context"
    (context / "files" / "nested").mkdir(parents=True)
    (context / "files" / "hello.txt").write_text("hello from a real BuildKit\n")
    (context / "files" / "nested" / "blob.bin").write_bytes(bytes(range(256)) * 64)
    (context / "VERSION").write_text("1.2.3\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY files/ /app/\nCOPY VERSION /app/VERSION\n")
    return context
