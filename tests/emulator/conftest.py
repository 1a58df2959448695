"""Fixtures for the emulator tests; the helpers they use live in emulator_support.py."""

from emulator_support import emulator, project, rpc, wire

__all__ = ["emulator", "project", "rpc", "wire"]
