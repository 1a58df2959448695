"""Apache Airflow provider for Depot (depot.dev).

Importing this package is cheap on purpose: it pulls in neither httpx nor the
generated protobuf modules, so DAG files that import operators parse fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
