"""What a handler learns about the call it serves."""

from __future__ import annotations

from collections.abc import Mapping

from airflow_provider_depot.connect._method import MethodSpec


class ServerCall:
    """One RPC in progress.

    ``token_kind`` and ``context`` come from the app's ``identify`` hook before the handler runs:
    a label for the audit log, and whatever the service layer derives from the headers (the Depot
    layer puts the caller's principal there).
    """

    __slots__ = ("context", "headers", "spec", "token_kind")

    def __init__(self, spec: MethodSpec, headers: Mapping[str, str]) -> None:
        self.spec = spec
        self.headers = headers
        self.token_kind = "none"
        self.context: object = None

    @property
    def procedure(self) -> str:
        """``depot.core.v1.ProjectService/GetProject``."""
        return self.spec.path[1:]

    @property
    def rpc(self) -> str:
        """``ProjectService/GetProject``."""
        return self.spec.rpc


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The ``Authorization: Bearer`` credential, or None when there is none."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token
