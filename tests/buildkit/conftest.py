"""Fixtures for the BuildKit tests: docker buildx as the BuildKit client and a build context. The
session's dockerd (``local_buildkit``) comes from tests/buildkit_fixtures.py, shared with
tests/interop."""

from __future__ import annotations

from pathlib import Path

import pytest
from buildx_tools import Buildx, make_buildx


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
