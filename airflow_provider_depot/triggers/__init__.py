"""Depot triggers for deferrable tasks; import them from their modules (nothing is imported here)."""
