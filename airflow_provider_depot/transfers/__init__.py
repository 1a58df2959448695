"""Transfers out of Depot: ``usage_to_sql.DepotUsageToSqlOperator`` (usage into SQL tables)."""
