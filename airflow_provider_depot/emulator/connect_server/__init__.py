"""A Connect protocol server (ASGI), independent of what the services behind it do."""

from ._app import ConnectApp
from ._asgi import ASGIApp, Receive, Scope, Send
from ._audit import AuditEntry, AuditLog
from ._call import ServerCall
from ._faults import ACTIONS, FaultPlan, FaultRule, rules_from_json
from ._routes import Route, route_table, routes_for

__all__ = [
    "ACTIONS",
    "ASGIApp",
    "AuditEntry",
    "AuditLog",
    "ConnectApp",
    "FaultPlan",
    "FaultRule",
    "Receive",
    "Route",
    "Scope",
    "Send",
    "ServerCall",
    "route_table",
    "routes_for",
    "rules_from_json",
]
