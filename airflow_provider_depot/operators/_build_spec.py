"""What the build operators are asked to do, checked before any call: ``BuildSpec`` for
DepotBuildOperator, ``BuildKitSpec`` for DepotBuildKitOperator. Imported when a task runs, not
when a DAG file is parsed.

Every error names the parameter (and the item) it is about. Nothing here reads a secret: the
``secrets`` sources are only checked for shape; ``_build_secrets`` resolves them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from airflow_provider_depot.client._validation import id_list, positive_seconds, require_id, require_text

from ._base import require_flag

PLATFORMS = ("linux/amd64", "linux/arm64")
DEFAULT_PLATFORMS = ("linux/amd64",)
SECRET_FIELDS = ("password", "login", "host", "schema", "port", "uri")
# buildx's remote contexts: a URL with a scheme, or scp-like git syntax (git@host:org/repo).
_REMOTE_CONTEXT = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
_SECRET_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_KEY = re.compile(r"^[^=\s]+$")


@dataclass(frozen=True)
class SecretSource:
    """A build secret's value: an Airflow Variable, or one field of an Airflow connection."""

    variable: str | None = None
    conn_id: str | None = None
    field: str = "password"

    def describe(self) -> str:
        return f"Variable {self.variable!r}" if self.variable else f"connection {self.conn_id!r} {self.field}"


@dataclass(frozen=True)
class BuildSpec:
    """A validated ``depot build``. ``context`` is an absolute directory or a remote URL."""

    project_id: str
    context: str
    is_remote_context: bool
    dockerfile: str | None
    tags: tuple[str, ...]
    platforms: tuple[str, ...]
    build_args: tuple[tuple[str, str], ...]
    target: str | None
    push: bool
    outputs: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    secrets: tuple[tuple[str, SecretSource], ...]
    no_cache: bool


@dataclass(frozen=True)
class BuildKitSpec:
    """A validated DepotBuildKitOperator run."""

    project_id: str
    command: str
    platforms: tuple[str, ...]
    health_interval: float
    endpoint_timeout: float
    env: tuple[tuple[str, str], ...]
    cwd: Path | None


def buildkit_spec(
    *,
    project_id: object,
    bash_command: object,
    platforms: object,
    health_interval: object,
    endpoint_timeout: object,
    env: object,
    cwd: object,
) -> BuildKitSpec:
    directory = None
    if cwd is not None:
        directory = Path(require_text("cwd", cwd))
        if not directory.is_absolute() or not directory.is_dir():
            raise ValueError(f"cwd must be an existing absolute directory, got {cwd!r}")
    return BuildKitSpec(
        project_id=require_id("project_id", project_id),
        command=require_text("bash_command", bash_command),
        platforms=platform_list(platforms),
        health_interval=positive_seconds("health_interval", health_interval),
        endpoint_timeout=positive_seconds("endpoint_timeout", endpoint_timeout),
        env=string_pairs("env", env),
        cwd=directory,
    )


def build_spec(
    *,
    project_id: object,
    context: object,
    dockerfile: object,
    tags: object,
    platforms: object,
    build_args: object,
    target: object,
    push: object,
    outputs: object,
    labels: object,
    secrets: object,
    no_cache: object,
    base_dir: Path | None,
) -> BuildSpec:
    """Check every argument; ``base_dir`` anchors a relative local ``context`` (the DAG's folder)."""
    context_text = require_text("context", context).strip()
    remote = bool(_REMOTE_CONTEXT.match(context_text))
    return BuildSpec(
        project_id=require_id("project_id", project_id),
        context=context_text if remote else str(_local_context(context_text, base_dir)),
        is_remote_context=remote,
        dockerfile=None if dockerfile is None else require_text("dockerfile", dockerfile),
        tags=tuple(_optional_list("tags", tags)),
        platforms=platform_list(platforms),
        build_args=string_pairs("build_args", build_args),
        target=None if target is None else require_id("target", target),
        push=require_flag("push", push),
        outputs=tuple(_output(f"outputs[{i}]", o) for i, o in enumerate(_texts("outputs", outputs))),
        labels=string_pairs("labels", labels),
        secrets=_secrets(secrets),
        no_cache=require_flag("no_cache", no_cache),
    )


def _local_context(text: str, base_dir: Path | None) -> Path:
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    path = path.resolve()
    if not path.is_dir():
        raise ValueError(f"context {text!r} is neither a directory ({path} is not one) nor a git/https URL")
    return path


def _optional_list(name: str, values: object) -> list[str]:
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {type(values).__name__}")
    return id_list(name, values) if values else []


def _texts(name: str, values: object) -> list[str]:
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {type(values).__name__}")
    return [require_text(f"{name}[{i}]", v) for i, v in enumerate(values)]


def platform_list(values: object) -> tuple[str, ...]:
    if values is None:
        return DEFAULT_PLATFORMS
    chosen = _optional_list("platforms", values)
    if not chosen:
        raise ValueError("platforms must not be empty (None means linux/amd64)")
    for index, platform in enumerate(chosen):
        if platform not in PLATFORMS:
            raise ValueError(f"platforms[{index}] must be one of {list(PLATFORMS)}, got {platform!r}")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"platforms lists a platform twice: {chosen}")
    return tuple(chosen)


def string_pairs(name: str, mapping: object) -> tuple[tuple[str, str], ...]:
    if mapping is None:
        return ()
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{name} must be a mapping of strings to strings, got {type(mapping).__name__}")
    pairs = []
    for key, value in mapping.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise ValueError(f"{name}: key {key!r} must be a non-empty string without '=' or whitespace")
        if not isinstance(value, str):
            raise TypeError(f"{name}[{key!r}] must be a string, got {type(value).__name__}")
        pairs.append((key, value))
    return tuple(pairs)


def _output(name: str, text: str) -> str:
    """An ``-o`` exporter spec; a ``dest`` must be absolute (the CLI runs in a private temp dir)."""
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "dest" and value not in ("-",) and not Path(value).is_absolute():
            raise ValueError(f"{name}: dest must be an absolute path, got {value!r}")
    return text


def _secrets(mapping: object) -> tuple[tuple[str, SecretSource], ...]:
    if mapping is None:
        return ()
    if not isinstance(mapping, Mapping):
        raise TypeError(
            'secrets must be a mapping of secret id to {"variable": NAME} or {"conn_id": ID, "field": ...}'
        )
    return tuple((_secret_id(key), _secret_source(key, source)) for key, source in mapping.items())


def _secret_id(key: object) -> str:
    if not isinstance(key, str) or not _SECRET_ID.match(key):
        raise ValueError(f"secrets: id {key!r} must be letters, digits, '_', '.' or '-'")
    return key


def _secret_source(key: str, source: object) -> SecretSource:
    name = f"secrets[{key!r}]"
    if not isinstance(source, Mapping):
        raise TypeError(f'{name} must be {{"variable": NAME}} or {{"conn_id": ID, "field": FIELD}}')
    unknown = sorted(set(source) - {"variable", "conn_id", "field"})
    if unknown:
        raise ValueError(f"{name}: unknown keys {unknown}")
    if ("variable" in source) == ("conn_id" in source):
        raise ValueError(f"{name} needs exactly one of 'variable' and 'conn_id'")
    if "variable" in source:
        if "field" in source:
            raise ValueError(f"{name}: 'field' applies to 'conn_id' only")
        return SecretSource(variable=require_id(f"{name}['variable']", source["variable"]))
    field = source.get("field", "password")
    if field not in SECRET_FIELDS:
        raise ValueError(f"{name}['field'] must be one of {list(SECRET_FIELDS)}, got {field!r}")
    return SecretSource(conn_id=require_id(f"{name}['conn_id']", source["conn_id"]), field=field)
