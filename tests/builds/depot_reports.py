"""Arranging builds in the emulator the way Depot's own parts would: steps and logs reported
through cli.v1 ReportStatus with the build's token (as a build client does), and a build's end."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_depot.emulator import EmulatorHandle
from airflow_provider_depot.emulator.depot._builds import finish_build
from airflow_provider_depot.emulator.depot._model import BuildStatus


@dataclass(frozen=True)
class Step:
    name: str
    digest: str
    error: str = ""
    logs: tuple[str, ...] = ()
    cached: bool = False


def report_steps(emulator: EmulatorHandle, build_id: str, build_token: str, steps: list[Step]) -> None:
    """BuildKit status for ``steps`` (started, completed, logs, errors) sent as a CLI would."""
    from google.protobuf.timestamp_pb2 import Timestamp

    from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as cli_pb2
    from airflow_provider_depot._proto.moby.buildkit.v1 import status_pb2
    from airflow_provider_depot.connect import ConnectTransport, TransportOptions, method_spec_from_descriptor

    started, completed = Timestamp(seconds=1_800_000_000), Timestamp(seconds=1_800_000_004)
    status = status_pb2.StatusResponse()
    for step in steps:
        status.vertexes.add(
            digest=step.digest, name=step.name, started=started, completed=completed,
            cached=step.cached, error=step.error,
        )  # fmt: skip
        for line in step.logs:
            status.logs.add(vertex=step.digest, timestamp=completed, stream=1, msg=f"{line}\n".encode())
    service = cli_pb2.DESCRIPTOR.services_by_name["BuildService"]
    spec = method_spec_from_descriptor(service, "ReportStatus")
    options = TransportOptions(base_url=emulator.url, token=build_token, http_version="h2c")
    with ConnectTransport(options) as transport:
        transport.unary(spec, cli_pb2.ReportStatusRequest(build_id=build_id, statuses=[status]))


def end_build(emulator: EmulatorHandle, build_id: str, status: BuildStatus, error: str | None = None) -> None:
    """Depot ending the build (what its builder or the build's client reports)."""
    finish_build(emulator.admin.state, emulator.admin.build(build_id), status, error)
