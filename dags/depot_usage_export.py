"""Daily Depot usage export into a SQL warehouse, with catchup (a backfill from the start date).

Each run exports the UTC day of its data interval (``CronDataIntervalTimetable``: the run for
2025-03-01 starts after that day ends and covers it); a manual run, which has an empty
interval, exports the last complete UTC day. Reruns replace their day, so clearing any run is
safe. A manual run can export any range at once: trigger it with the params ``start`` and
``end`` (ISO dates, end exclusive), e.g. ``airflow dags test depot_usage_export -c
'{"start": "2025-03-01", "end": "2025-03-08"}'``; each day still gets its own rows.

Settings come from the environment, read when the file is parsed:

- ``DEPOT_USAGE_START_DATE``: first day to export (default 2025-01-01).
- ``DEPOT_USAGE_SQL_CONN_ID``: warehouse connection (default ``depot_usage_sqlite``, meant to be
  a SQLite file, e.g. ``AIRFLOW_CONN_DEPOT_USAGE_SQLITE='{"conn_type": "sqlite", "host":
  "/var/lib/airflow/depot_usage.db"}'``; any common-sql connection works).
- ``DEPOT_USAGE_DEPOT_CONN_ID``: Depot connection (default ``depot_default``).
- ``DEPOT_USAGE_TABLE_PREFIX`` / ``DEPOT_USAGE_SCHEMA``: where the tables go (default: no prefix,
  the connection's schema).

Downstream DAGs can be scheduled on the tables' Assets, e.g.
``Asset("depot-usage://depot_usage_sqlite/depot_usage_container_builds")``.
"""

from __future__ import annotations

import datetime as dt
import os

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from airflow_provider_depot.transfers.usage_to_sql import DepotUsageToSqlOperator

with DAG(
    dag_id="depot_usage_export",
    description="Depot usage into SQL tables, one UTC day per run",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.parse(os.environ.get("DEPOT_USAGE_START_DATE", "2025-01-01"), tz="UTC"),
    catchup=True,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": dt.timedelta(minutes=5)},
    tags=["depot", "usage"],
    params={
        "start": Param("", type="string", description="First day (ISO date); empty: the run's day."),
        "end": Param("", type="string", description="Day after the last (exclusive); with start."),
    },
) as dag:
    DepotUsageToSqlOperator(
        task_id="export_usage",
        depot_conn_id=os.environ.get("DEPOT_USAGE_DEPOT_CONN_ID", "depot_default"),
        sql_conn_id=os.environ.get("DEPOT_USAGE_SQL_CONN_ID", "depot_usage_sqlite"),
        table_prefix=os.environ.get("DEPOT_USAGE_TABLE_PREFIX", ""),
        schema=os.environ.get("DEPOT_USAGE_SCHEMA") or None,
        start="{{ params.start }}",
        end="{{ params.end }}",
    )
