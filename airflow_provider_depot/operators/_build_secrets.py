"""Build secrets: read from Airflow, masked, handed to the CLI through environment variables.

``depot build --secret id=ID,env=VAR`` makes BuildKit read the value from the CLI's environment,
so a value never appears on a command line (``ps``), in the task log or in XCom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from airflow.sdk import BaseHook, Variable
from airflow.sdk.log import mask_secret

from ._build_spec import SecretSource

ENV_PREFIX = "DEPOT_BUILD_SECRET_"


@dataclass(frozen=True)
class ResolvedSecrets:
    """``--secret`` arguments and the environment entries that hold the values."""

    args: tuple[str, ...]
    env: dict[str, str] = field(repr=False)


def resolve_secrets(secrets: Sequence[tuple[str, SecretSource]]) -> ResolvedSecrets:
    """Read every secret; a missing Variable or connection fails naming the secret id."""
    args: list[str] = []
    env: dict[str, str] = {}
    for index, (secret_id, source) in enumerate(secrets):
        value = _read(secret_id, source)
        mask_secret(value)
        variable = f"{ENV_PREFIX}{index}"
        env[variable] = value
        args += ["--secret", f"id={secret_id},env={variable}"]
    return ResolvedSecrets(tuple(args), env)


def _read(secret_id: str, source: SecretSource) -> str:
    where = f"secrets[{secret_id!r}] ({source.describe()})"
    try:
        if source.variable is not None:
            value = Variable.get(source.variable)
        else:
            assert source.conn_id is not None
            connection = BaseHook.get_connection(source.conn_id)
            value = connection.get_uri() if source.field == "uri" else getattr(connection, source.field)
    except Exception as exc:  # the SDK raises its own not-found types; keep their message
        raise ValueError(f"{where} could not be read: {type(exc).__name__}: {exc}") from None
    if value is None or value == "":
        raise ValueError(f"{where} is empty")
    return str(value)
