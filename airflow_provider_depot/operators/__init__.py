"""Depot operators, one module per area; import them from their modules, e.g.
``from airflow_provider_depot.operators.projects import DepotCreateProjectOperator``.

Nothing is imported here, so that a DAG file pays only for the modules it uses.
"""
