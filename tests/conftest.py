"""Session-wide test setup: a private AIRFLOW_HOME with a SQLite metadata DB.

The environment is set before anything imports Airflow, so Airflow never touches the
developer's own AIRFLOW_HOME.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from required_tools import require_tool  # re-exported for conftest users

__all__ = ["require_tool"]

_HOME = Path(tempfile.mkdtemp(prefix="depot-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parent.parent / "dags")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
os.environ.pop("DEPOT_API_URL", None)

pytest_plugins = [
    "buildkit_fixtures",  # local_buildkit, for tests/buildkit, tests/interop and tests/builds
    "airflow_provider_depot.emulator.pytest_plugin",  # depot_emulator, as users get it
]


@pytest.fixture(scope="session")
def airflow_db() -> Iterator[Path]:
    """A migrated SQLite metadata DB in the session's AIRFLOW_HOME (for dag.test())."""
    from airflow.utils import db

    db.resetdb()
    yield _HOME


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_HOME, ignore_errors=True)
