"""Operator extra links; import them from their modules (nothing is imported here)."""
