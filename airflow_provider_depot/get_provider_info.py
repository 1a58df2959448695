"""What Airflow's providers manager reads from the ``apache_airflow_provider`` entry point.

Kept free of imports so that the providers manager pays nothing to discover it.
"""

from __future__ import annotations

from typing import Any

_PKG = "airflow_provider_depot"
_INTEGRATION = "Depot"


def get_provider_info() -> dict[str, Any]:
    info = _info()
    return {key: value for key, value in info.items() if value}


def _info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-depot",
        "name": "Depot",
        "description": "Depot (depot.dev) remote container builds: builds, registry cleanup, usage export.",
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://depot.dev/docs/api/overview",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": [f"{_PKG}.hooks.depot"]}],
        "operators": _section(_OPERATOR_MODULES),
        "sensors": _section(_SENSOR_MODULES),
        "triggers": _section(_TRIGGER_MODULES),
        "transfers": _TRANSFERS,
        "extra-links": _EXTRA_LINKS,
        "connection-types": [
            {
                "hook-class-name": f"{_PKG}.hooks.depot.DepotHook",
                "hook-name": "Depot",
                "connection-type": "depot",
                "conn-fields": {
                    "org_id": {
                        "label": "Organization ID",
                        "schema": {"type": ["string", "null"]},
                        "description": "Default organization for calls that take one.",
                    },
                    "api_url": {
                        "label": "API URL",
                        "schema": {"type": ["string", "null"]},
                        "description": "Default https://api.depot.dev (or DEPOT_API_URL). "
                        "Plain http:// is accepted for loopback hosts only.",
                    },
                    "timeout": {
                        "label": "Per-call timeout (seconds)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                    },
                    "max_retries": {
                        "label": "Retries for safe calls",
                        "schema": {"type": ["integer", "null"], "minimum": 0, "default": 3},
                    },
                    "http2": {
                        "label": "HTTP/2",
                        "schema": {"type": ["boolean", "null"], "default": True},
                        "description": "HTTP/2 over https (ALPN); on http:// it means h2c prior knowledge.",
                    },
                    "ca_bundle": {
                        "label": "CA bundle path",
                        "schema": {"type": ["string", "null"]},
                        "description": "Verify TLS against this CA file instead of the system store.",
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login", "extra"],
                    "relabeling": {"host": "API URL (optional)", "password": "Depot API token"},
                    "placeholders": {
                        "host": "https://api.depot.dev",
                        "password": "organization or project token",
                    },
                },
            }
        ],
    }


def _section(modules: list[str]) -> list[dict[str, Any]]:
    return [{"integration-name": _INTEGRATION, "python-modules": modules}] if modules else []


_OPERATOR_MODULES: list[str] = [
    f"{_PKG}.operators.projects",
    f"{_PKG}.operators.tokens",
    f"{_PKG}.operators.trust_policies",
    f"{_PKG}.operators.registry_cleanup",
    f"{_PKG}.operators.build",
    f"{_PKG}.operators.buildkit",
]
_SENSOR_MODULES: list[str] = [f"{_PKG}.sensors.build"]
_TRIGGER_MODULES: list[str] = [f"{_PKG}.triggers.build"]
_TRANSFERS: list[dict[str, str]] = [
    {
        "source-integration-name": _INTEGRATION,
        "target-integration-name": "Common SQL",
        "python-module": f"{_PKG}.transfers.usage_to_sql",
    }
]
_EXTRA_LINKS: list[str] = [f"{_PKG}.links.build.DepotBuildLink"]
