"""What the operator tests ask of the emulator behind ``depot_default``, and shared assertions."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_depot.client import DepotClient
from airflow_provider_depot.connect import ConnectError
from airflow_provider_depot.emulator import EmulatorHandle
from airflow_provider_depot.exceptions import DepotParameterError


@dataclass
class Depot:
    """The emulator behind ``depot_default``, with what the tests ask of it."""

    emulator: EmulatorHandle

    @property
    def admin(self) -> Any:
        return self.emulator.admin

    def client(self, token: str | None = None) -> DepotClient:
        return DepotClient(token=token or self.emulator.token, base_url=self.emulator.url, http_version="1.1")

    def mark(self) -> int:
        """The audit position once every call so far is in it; ``calls(since=mark)`` gives the rest."""
        self._settled_audit(0)
        return int(self.admin.audit()[-1]["seq"])

    def calls(self, since: int = 0) -> Counter[str]:
        """RPCs answered after ``since``, counted by method name (``"DeleteImage"``...)."""
        entries = self._settled_audit(since)
        return Counter(entry["procedure"].rsplit("/", 1)[-1] for entry in entries)

    def _settled_audit(self, since: int) -> list[dict[str, Any]]:
        """The audit once every call made so far is in it.

        The emulator records a call just after sending its reply, so a client may hold the reply
        before the entry exists. A sentinel call made now (ListOrganizations with a wrong token,
        which no test makes otherwise) is answered after the earlier calls, so once it is in the
        audit they are too. The sentinel is left out of the result.
        """
        sentinels_before = sum(map(_is_sentinel, self.admin.audit(since)))
        with self.client(token="audit-sentinel") as client, contextlib.suppress(ConnectError):
            client.organizations.list_organizations()
        for _ in range(1000):
            entries = self.admin.audit(since)
            rest = [entry for entry in entries if not _is_sentinel(entry)]
            if len(entries) - len(rest) > sentinels_before:
                return rest
            time.sleep(0.01)
        raise AssertionError("the emulator's audit never showed the sentinel call")

    def fail(self, method: str, *, skip_first: int = 0, times: int = 1, code: str = "internal") -> None:
        """Make ``method`` (e.g. ``"RegistryService/ListImages"``) answer an error ``times`` times."""
        self.admin.add_faults(
            [
                {
                    "method": f"*{method}",
                    "action": "error",
                    "code": code,
                    "skip_first": skip_first,
                    "times": times,
                }
            ]
        )

    def project(self, name: str = "api") -> str:
        return str(self.admin.create_project(name).project_id)

    def tags(self, project_id: str) -> set[str]:
        return {record.tag for record in self.admin.images(project_id)}


def _is_sentinel(entry: dict[str, Any]) -> bool:
    return bool(entry["procedure"].endswith("/ListOrganizations") and entry["code"] == "unauthenticated")


def assert_json(value: Any) -> None:
    """``value`` is plain JSON: it survives a dumps/loads round trip unchanged."""
    assert json.loads(json.dumps(value)) == value


def assert_rejected_before_any_call(depot: Depot, operator: Any, parameter: str) -> None:
    """``execute()`` fails naming ``parameter``, and the emulator saw no call at all."""
    since = depot.mark()
    with pytest.raises(DepotParameterError) as raised:
        operator.execute({})
    assert parameter in str(raised.value)
    assert depot.calls(since) == Counter()


@dataclass
class DagRunResult:
    state: str
    xcoms: dict[str, list[Any]]  # task_id -> the values it returned, by map index


def run_dag_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, dag_id: str, run_conf: dict[str, Any]
) -> DagRunResult:
    """Run the DAG ``dag_id`` that ``source`` binds to a module global, with ``dag.test()``
    (the test needs ``airflow_db``).

    ``dag.test()`` finds a DAG through the configured bundles only, so the file goes into a
    bundle of its own for this test.
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    folder = tmp_path / "bundle"
    folder.mkdir()
    path = folder / f"{dag_id}.py"
    path.write_text(source)
    bundle = {
        "name": f"test-{dag_id}",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder), "refresh_interval": 0},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    spec = importlib.util.spec_from_file_location(dag_id, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = next(value for value in vars(module).values() if getattr(value, "dag_id", None) == dag_id)
    run = dag.test(run_conf=run_conf)
    xcoms: dict[str, list[Any]] = {}
    with create_session() as session:
        rows: list[Any] = list(
            session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=dag_id, key="return_value"))
        )
        for row in sorted(rows, key=lambda r: (r.task_id, r.map_index)):
            xcoms.setdefault(row.task_id, []).append(XComModel.deserialize_value(row))
    return DagRunResult(str(run.state), xcoms)
