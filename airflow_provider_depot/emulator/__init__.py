"""A local Depot API: the emulator official clients and this provider can talk to.

    from airflow_provider_depot.emulator import run_emulator
    with run_emulator(seed="demo") as emu:
        ...  # emu.url, emu.token, emu.admin, emu.clock

Also ``depot-emulator`` (the console script) and the ``depot_emulator`` pytest fixture
(``pytest_plugins = ["airflow_provider_depot.emulator.pytest_plugin"]``). The names below are
imported on first use, so importing a submodule (``_certs``, ``local_buildkit``) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._admin import Admin
    from ._clock import Clock
    from ._emulator import DEFAULT_TOKEN, Emulator, EmulatorConfig
    from ._inprocess import EmulatorHandle, run_emulator, start_emulator
    from .connect_server import FaultRule

_EXPORTS = {
    "Admin": "._admin",
    "Clock": "._clock",
    "DEFAULT_TOKEN": "._emulator",
    "Emulator": "._emulator",
    "EmulatorConfig": "._emulator",
    "EmulatorHandle": "._inprocess",
    "FaultRule": ".connect_server",
    "run_emulator": "._inprocess",
    "start_emulator": "._inprocess",
}

__all__ = [
    "DEFAULT_TOKEN",
    "Admin",
    "Clock",
    "Emulator",
    "EmulatorConfig",
    "EmulatorHandle",
    "FaultRule",
    "run_emulator",
    "start_emulator",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
