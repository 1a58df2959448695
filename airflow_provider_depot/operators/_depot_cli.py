"""The official ``depot`` CLI: finding it, and the ``depot build`` command line and environment.

The CLI is told to use a build created beforehand through the API (``DEPOT_BUILD_ID`` with the
build's token), as Depot documents for API-created builds; it then sends no CreateBuild of its
own and handles the builder, the health reports and FinishBuild itself.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from ._build_spec import BuildSpec

NPM_PACKAGE = "@depot/cli-linux-x64@0.0.1-cli.2.102.12"
INSTALL_HINT = (
    "install it with `npm install " + NPM_PACKAGE + "` (the binary is "
    "node_modules/@depot/cli-linux-x64/bin/depot; the newest `@depot/cli` wrapper on npm asks for "
    "an unpublished binary) or from https://depot.dev/docs/cli/installation, then put it on PATH "
    "or pass its path as depot_cli_path"
)
# Quiet, non-interactive, no calls home: the task log is the only place output goes.
QUIET_ENV = {
    "DEPOT_DISABLE_OTEL": "1",
    "DEPOT_NO_UPDATE_NOTIFIER": "1",
    "DEPOT_ERROR_TELEMETRY": "0",
    "DEPOT_NO_SUMMARY_LINK": "1",
}


class DepotCliNotFoundError(ValueError):
    """No executable ``depot`` CLI where ``depot_cli_path`` (or PATH) says: a bad argument or
    a worker without the CLI; either way, retrying on the same worker would not help."""


def find_depot_cli(depot_cli_path: str | None) -> str:
    """An executable path: ``depot_cli_path`` itself if it has a ``/``, else looked up on PATH."""
    name = depot_cli_path or "depot"
    if os.sep in name:
        if os.path.isfile(name) and os.access(name, os.X_OK):
            return name
        raise DepotCliNotFoundError(f"depot_cli_path {name!r} is not an executable file; {INSTALL_HINT}")
    found = shutil.which(name)
    if found is None:
        raise DepotCliNotFoundError(f"the depot CLI ({name!r}) is not on PATH; {INSTALL_HINT}")
    return found


def build_command(
    cli: str, spec: BuildSpec, *, metadata_file: Path, secret_args: tuple[str, ...]
) -> list[str]:
    """``depot build ...`` for ``spec``; secret values are not in it (see ``_build_secrets``)."""
    argv = [cli, "build", "--progress", "plain", "--metadata-file", str(metadata_file)]
    argv += ["--platform", ",".join(spec.platforms)]
    if spec.dockerfile is not None:
        argv += ["--file", _dockerfile_path(spec)]
    for tag in spec.tags:
        argv += ["--tag", tag]
    for key, value in spec.build_args:
        argv += ["--build-arg", f"{key}={value}"]
    for key, value in spec.labels:
        argv += ["--label", f"{key}={value}"]
    if spec.target is not None:
        argv += ["--target", spec.target]
    if spec.push:
        argv.append("--push")
    for output in spec.outputs:
        argv += ["--output", output]
    argv += secret_args
    if spec.no_cache:
        argv.append("--no-cache")
    argv.append(spec.context)
    return argv


def _dockerfile_path(spec: BuildSpec) -> str:
    """A relative ``dockerfile`` is inside the context; for a local context the CLI, which runs
    in a temp dir, gets it as an absolute path."""
    assert spec.dockerfile is not None
    if spec.is_remote_context or Path(spec.dockerfile).is_absolute():
        return spec.dockerfile
    return str(Path(spec.context) / spec.dockerfile)


def build_environment(
    *,
    inherited: Mapping[str, str],
    api_url: str,
    project_id: str,
    build_id: str,
    build_token: str,
    ca_bundle: str | None,
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The CLI's environment: ``inherited`` (see ``_process.inherited_environment``), the
    quiet settings, the build's settings, then ``extra`` (the secrets)."""
    env = dict(inherited)
    env.update(QUIET_ENV)
    env.update(
        DEPOT_API_URL=api_url,
        DEPOT_PROJECT_ID=project_id,
        DEPOT_BUILD_ID=build_id,
        DEPOT_TOKEN=build_token,
    )
    if ca_bundle is not None:
        env["SSL_CERT_FILE"] = ca_bundle
    env.update(extra)
    return env
