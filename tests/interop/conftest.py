"""Fixtures for the interop tests: the official Depot Node SDK, installed from the lock file."""

from __future__ import annotations

from typing import Any

import pytest
from node_env import (
    INTEROP_BATCH_SCRIPT,
    INTEROP_NODE_DIR,
    NodeTools,
    ensure_npm_ci,
    require_node_tools,
    run_node_jsonl,
)
from proto_schema import Schema


@pytest.fixture(scope="session")
def interop_node() -> NodeTools:
    """node and npm, with tests/interop/node's pinned packages installed (`npm ci`)."""
    tools = require_node_tools()
    ensure_npm_ci(INTEROP_NODE_DIR, tools)
    return tools


@pytest.fixture(scope="session")
def sdk_description(interop_node: NodeTools) -> dict[str, Any]:
    """What the SDK bundle knows: {"schema": Schema, "sdk_version": str}."""
    (reply,) = run_node_jsonl(interop_node, INTEROP_BATCH_SCRIPT, [{"id": "describe", "op": "describe"}])
    assert "error" not in reply, reply["error"]
    return reply


@pytest.fixture(scope="session")
def sdk_schema(sdk_description: dict[str, Any]) -> Schema:
    schema: Schema = sdk_description["schema"]
    return schema
