"""Depot sensors; import them from their modules, e.g.
``from airflow_provider_depot.sensors.build import DepotBuildSensor`` (nothing is imported here)."""
