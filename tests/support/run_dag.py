"""Run one DAG with dag.test() in a process of its own: ``python run_dag.py FILE DAG_ID RUN_CONF``.

The kill tests send this process SIGTERM while its task runs, as a worker's supervisor would.
Prints ``DAG_RUN_STATE=<state>`` at the end.
"""

from __future__ import annotations

import importlib.util
import json
import sys

from airflow.sdk import DAG


def main(path: str, dag_id: str, run_conf: str) -> None:
    spec = importlib.util.spec_from_file_location("dags_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = next(d for d in vars(module).values() if isinstance(d, DAG) and d.dag_id == dag_id)
    dag_run = dag.test(run_conf=json.loads(run_conf))
    print(f"DAG_RUN_STATE={dag_run.state}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
