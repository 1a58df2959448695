from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from airflow_provider_depot.get_provider_info import get_provider_info


def test_entry_point_is_registered():
    eps = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_depot")
    ]
    assert len(eps) == 1
    assert eps[0].load() is get_provider_info


def test_every_listed_module_and_class_imports():
    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            assert entry["python-modules"], section
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for transfer in info.get("transfers", []):
        importlib.import_module(transfer["python-module"])
    for dotted in info.get("extra-links", []) + [c["hook-class-name"] for c in info["connection-types"]]:
        module, _, name = dotted.rpartition(".")
        assert getattr(importlib.import_module(module), name)


def test_airflow_sees_the_depot_connection_type():
    from airflow.providers_manager import ProvidersManager

    pm = ProvidersManager()
    assert "airflow-provider-depot" in pm.providers
    hook = pm.hooks["depot"]
    assert hook is not None and hook.hook_class_name == "airflow_provider_depot.hooks.depot.DepotHook"
    widgets = pm.connection_form_widgets
    assert {"extra__depot__org_id", "extra__depot__api_url", "extra__depot__ca_bundle"} <= set(widgets)
