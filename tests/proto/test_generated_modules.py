from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_committed_stubs_match_proto_sources():
    """Fails when proto/ changed and `python scripts/gen_proto.py` was not run (or vice versa)."""
    result = subprocess.run(
        [sys.executable, "scripts/gen_proto.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_proto_file_has_committed_modules():
    for proto in (ROOT / "proto").rglob("*.proto"):
        rel = proto.relative_to(ROOT / "proto").with_suffix("")
        base = ROOT / "airflow_provider_depot" / "_proto" / rel.parent / f"{rel.name}_pb2"
        assert base.with_suffix(".py").is_file(), base
        assert base.with_suffix(".pyi").is_file(), base


@pytest.mark.parametrize(
    ("module", "service", "methods"),
    [
        ("depot.core.v1.project_pb2", "ProjectService", 13),
        ("depot.core.v1.usage_pb2", "UsageService", 3),
        ("depot.core.v1.build_pb2", "BuildService", 4),
        ("depot.core.v1.org_pb2", "OrganizationService", 1),
        ("depot.build.v1.build_pb2", "BuildService", 4),
        ("depot.build.v1.registry_pb2", "RegistryService", 2),
        ("depot.buildkit.v1.buildkit_pb2", "BuildKitService", 3),
        ("depot.cli.v1.build_pb2", "BuildService", 12),
        ("depot.cli.v1beta1.projects_pb2", "ProjectsService", 2),
    ],
)
def test_services_have_every_method_of_the_schema(module, service, methods):
    import importlib

    mod = importlib.import_module(f"airflow_provider_depot._proto.{module}")
    assert len(mod.DESCRIPTOR.services_by_name[service].methods) == methods


def test_streaming_kinds():
    from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
    from airflow_provider_depot._proto.depot.cli.v1 import build_pb2

    svc = buildkit_pb2.DESCRIPTOR.services_by_name["BuildKitService"].methods_by_name
    assert svc["GetEndpoint"].server_streaming and not svc["GetEndpoint"].client_streaming
    assert svc["ReportHealth"].client_streaming and not svc["ReportHealth"].server_streaming
    cli = build_pb2.DESCRIPTOR.services_by_name["BuildService"].methods_by_name
    assert cli["ReportStatusStream"].client_streaming
