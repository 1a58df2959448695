"""Registry cleanup, the pure part: ImageRecords in, a CleanupPlan out.

Nothing here performs I/O, reads the clock, or imports Airflow, httpx or the generated protobuf
modules; the operator lists the registry, builds ImageRecords and sends the DeleteImage batches.
The rules are described in ``_planner`` (plain parameters) and ``_ecr_policy`` (ECR lifecycle
policies).
"""

from __future__ import annotations

from ._durations import parse_older_than
from ._ecr_policy import LifecyclePolicy, LifecycleRule, parse_lifecycle_policy
from ._errors import CleanupConfigError
from ._plan import CleanupPlan, ImageGroup, format_bytes
from ._planner import DEFAULT_KEEP_TAGS, CleanupRules, plan_cleanup
from ._records import ImageRecord

__all__ = [
    "DEFAULT_KEEP_TAGS",
    "CleanupConfigError",
    "CleanupPlan",
    "CleanupRules",
    "ImageGroup",
    "ImageRecord",
    "LifecyclePolicy",
    "LifecycleRule",
    "format_bytes",
    "parse_lifecycle_policy",
    "parse_older_than",
    "plan_cleanup",
]
