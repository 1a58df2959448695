"""Operators for Depot project tokens: create (secret kept out of XCom and logs), list, update, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException
from airflow.sdk.log import mask_secret

from ._base import DepotBaseOperator, DepotProjectOperator, require_flag
from ._json import message_to_json

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_depot.client import DepotClient

# The metadata DB's key column holds 250 characters.
_MAX_VARIABLE_KEY = 250


class DepotCreateTokenOperator(DepotProjectOperator):
    """Create a project token; its secret never reaches XCom, the log or an exception.

    The secret is registered with Airflow's secrets masker (``mask_secret``) as soon as the
    response arrives. It is then either stored in the Airflow Variable ``store_in_variable`` or
    discarded (Depot shows a secret only once, so that leaves a token nobody holds: useful only
    to test token creation).

    Where the secret goes: ``Variable.set`` of the Task SDK writes through the API server into
    the metadata database. Airflow 3.3 has no way to write to a secrets backend (Vault, AWS
    Secrets Manager...): backends are read-only, and if one defines the same key it keeps
    shadowing the stored value (Airflow warns). Choose a key containing ``token`` or
    ``secret`` (e.g. ``depot_token_myproject``) so that Airflow masks the value in the UI and
    whenever a task reads it.

    If storing fails, the new token is deleted again so that no credential nobody holds stays
    valid, and the task fails saying whether that deletion worked.

    Returns ``{project_id, token_id, description, stored_in_variable}`` (the Variable key or None).

    :param project_id: the project the token is for (templated).
    :param description: shown in Depot's token list (templated).
    :param store_in_variable: the Variable key to store the secret under (templated), or None.
    """

    template_fields: Sequence[str] = (
        *DepotProjectOperator.template_fields,
        "description",
        "store_in_variable",
    )

    def __init__(
        self, *, project_id: str, description: str, store_in_variable: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(project_id=project_id, **kwargs)
        self.description = description
        self.store_in_variable = store_in_variable

    def validated(self) -> tuple[str, str, str | None]:
        from airflow_provider_depot.client._validation import optional_id, require_text

        key = optional_id("store_in_variable", self.store_in_variable)
        if key is not None and len(key) > _MAX_VARIABLE_KEY:
            raise ValueError(
                f"store_in_variable must be at most {_MAX_VARIABLE_KEY} characters, got {len(key)}"
            )
        return (
            self.checked_project_id(),
            require_text("description", self.description),
            key,
        )

    def call_depot(
        self, client: DepotClient, args: tuple[str, str, str | None], context: Context
    ) -> dict[str, Any]:
        project_id, description, key = args
        response = client.projects.create_token(project_id=project_id, description=description)
        secret = response.secret
        mask_secret(secret)
        response.ClearField("secret")
        token_id = response.token_id
        self.log.info("Created token %s for project %s", token_id, project_id)
        if key is not None:
            self._store(client, key, secret, token_id, project_id)
            self.log.info("Stored the secret of token %s in Variable %r", token_id, key)
        return {
            "project_id": project_id,
            "token_id": token_id,
            "description": description,
            "stored_in_variable": key,
        }

    @staticmethod
    def _store(client: DepotClient, key: str, secret: str, token_id: str, project_id: str) -> None:
        from airflow.sdk import Variable

        try:
            Variable.set(key, secret, description=f"Depot token {token_id} of project {project_id}")
        except Exception as exc:
            # The error text may quote the value (validation errors do): keep only a redacted text.
            reason = f"{type(exc).__name__}: {str(exc).replace(secret, '***') if secret else exc}"
            try:
                client.projects.delete_token(token_id=token_id)
            except Exception as cleanup:
                outcome = (
                    f"deleting the token failed too ({type(cleanup).__name__}); delete {token_id} by hand"
                )
            else:
                outcome = "the token was deleted again"
            raise AirflowException(
                f"Could not store token {token_id} in Variable {key!r} ({reason}); {outcome}"
            ) from None


class DepotListTokensOperator(DepotProjectOperator):
    """Return a project's tokens as ``[{token_id, description}]`` (never secrets: the API has none).

    :param project_id: the project (templated).
    """

    def call_depot(self, client: DepotClient, args: str, context: Context) -> list[dict[str, Any]]:
        return [message_to_json(token) for token in client.projects.list_tokens(project_id=args).tokens]


class DepotUpdateTokenOperator(DepotBaseOperator):
    """Change a token's description. Returns ``{token_id, description}``.

    :param token_id: the token (templated).
    :param description: the new description (templated).
    """

    template_fields: Sequence[str] = (*DepotBaseOperator.template_fields, "token_id", "description")

    def __init__(self, *, token_id: str, description: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token_id = token_id
        self.description = description

    def validated(self) -> tuple[str, str]:
        from airflow_provider_depot.client._validation import require_id, require_text

        return require_id("token_id", self.token_id), require_text("description", self.description)

    def call_depot(self, client: DepotClient, args: tuple[str, str], context: Context) -> dict[str, Any]:
        token_id, description = args
        client.projects.update_token(token_id=token_id, description=description)
        self.log.info("Updated the description of token %s", token_id)
        return {"token_id": token_id, "description": description}


class DepotDeleteTokenOperator(DepotBaseOperator):
    """Revoke a token. Returns ``{token_id, deleted}``.

    :param token_id: the token (templated).
    :param missing_ok: if True, a token that does not exist is success with ``deleted: False``.
    """

    template_fields: Sequence[str] = (*DepotBaseOperator.template_fields, "token_id")

    def __init__(self, *, token_id: str, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token_id = token_id
        self.missing_ok = missing_ok

    def validated(self) -> str:
        from airflow_provider_depot.client._validation import require_id

        require_flag("missing_ok", self.missing_ok)
        return require_id("token_id", self.token_id)

    def call_depot(self, client: DepotClient, args: str, context: Context) -> dict[str, Any]:
        deleted = self.delete_or_missing(
            lambda: client.projects.delete_token(token_id=args),
            missing_ok=self.missing_ok,
            what=f"token {args}",
        )
        return {"token_id": args, "deleted": deleted}
