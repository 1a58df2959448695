"""DepotBuildOperator: an image build on Depot, run by the official ``depot`` CLI."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowTaskTerminated
from airflow.sdk.log import mask_secret

from airflow_provider_depot.exceptions import run_validation
from airflow_provider_depot.links.build import DepotBuildLink, push_build_reference, resolve_build_url

from ._base import DepotProjectOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_depot.client import DepotClient

    from ._build_secrets import ResolvedSecrets
    from ._build_spec import BuildSpec
    from ._process import StreamedProcess

CLI_STOP_GRACE = 3.0  # seconds the CLI gets to cancel the build before it is killed
_DIGEST_KEY = "containerimage.digest"
# Patterns, not compiled at import (re caches them): DAG files import this module.
_CLI_VERDICT = r"^(?:ERROR\b|error:|failed to solve\b)"
_CLI_STEP_ERROR = r"^#\d+ ERROR\b"


class DepotBuildOperator(DepotProjectOperator):
    """Build an image on Depot with the ``depot`` CLI and return what was built.

    The build is created through the API first (build.v1 CreateBuild), so its id and page are
    known before anything runs: XCom ``build_id`` and ``build_url`` are pushed at once (the
    "Depot build" extra link reads them). Then ``depot build`` runs with that build
    (``DEPOT_BUILD_ID`` and the build's short-lived token, which is masked in the log), its
    output streamed line by line into the task log. The CLI gets the builder, reports health
    and finishes the build itself.

    When the build fails, its steps (GetBuildSteps) and the failing step's logs
    (GetBuildStepLogs) are written to the log and the task fails with that step's error. When
    the task is killed (``on_kill``, SIGTERM) the CLI is stopped with SIGTERM, which makes it
    finish the build as canceled; a build the CLI left running is finished with an error
    through the API. So is a build whose CLI died without finishing it. A task killed outright
    (SIGKILL) cannot act; the kernel then sends the CLI SIGTERM (``setpriv --pdeathsig``, from
    util-linux), so it still cancels the build.

    Returns ``{build_id, build_url, project_id, tags, digest, platforms, steps}``: ``digest``
    is the image digest from ``--metadata-file`` (None when no image was exported, e.g. with a
    ``type=local`` output); ``steps`` is ``{total, cached, failed, cached_steps,
    duration_seconds}`` or None if the steps could not be read.

    :param project_id: the Depot project (templated).
    :param context: the build context: a directory (relative paths are relative to the DAG
        file's folder) or a git/https URL passed to the CLI as is (templated).
    :param dockerfile: the Dockerfile, relative to the context (templated); default
        ``Dockerfile`` in the context.
    :param tags: image names with tags, e.g. ``["registry.depot.dev/PROJECT:nightly"]`` (templated).
    :param platforms: ``linux/amd64`` and/or ``linux/arm64`` (templated); default linux/amd64.
    :param build_args: ``--build-arg`` values (templated). Not for secrets: they end up in the
        image history; use ``secrets``.
    :param target: the Dockerfile stage to build (templated).
    :param push: push ``tags`` to their registry (templated: a template must render a bool,
        as with ``render_template_as_native_obj=True``).
    :param outputs: ``--output`` exporter specs such as ``type=local,dest=/abs/dir`` (templated);
        a ``dest`` must be an absolute path.
    :param labels: image labels (templated).
    :param secrets: build secrets by id, each ``{"variable": NAME}`` (an Airflow Variable) or
        ``{"conn_id": ID, "field": "password"}`` (a field of an Airflow connection: password,
        login, host, schema, port or uri) (templated). A Dockerfile reads one with
        ``RUN --mount=type=secret,id=ID``. Values are masked in the log and reach the CLI only
        through its environment (``--secret id=ID,env=VAR``), never its command line.
    :param no_cache: build without Depot's layer cache (templated, like ``push``).
    :param depot_cli_path: the ``depot`` executable; a bare name is looked up on PATH
        (templated). Default ``depot``.
    :param depot_conn_id: the ``depot`` connection (templated); its token needs build access
        to the project.
    """

    template_fields: Sequence[str] = (
        *DepotProjectOperator.template_fields,
        "context",
        "dockerfile",
        "tags",
        "platforms",
        "build_args",
        "target",
        "push",
        "outputs",
        "labels",
        "secrets",
        "no_cache",
        "depot_cli_path",
    )
    operator_extra_links = (DepotBuildLink(),)

    def __init__(
        self,
        *,
        project_id: str,
        context: str,
        dockerfile: str | None = None,
        tags: Sequence[str] | None = None,
        platforms: Sequence[str] | None = None,
        build_args: Mapping[str, str] | None = None,
        target: str | None = None,
        push: bool = False,
        outputs: Sequence[str] | None = None,
        labels: Mapping[str, str] | None = None,
        secrets: Mapping[str, Mapping[str, str]] | None = None,
        no_cache: bool = False,
        depot_cli_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(project_id=project_id, **kwargs)
        self.context = context
        self.dockerfile = dockerfile
        self.tags = tags
        self.platforms = platforms
        self.build_args = build_args
        self.target = target
        self.push = push
        self.outputs = outputs
        self.labels = labels
        self.secrets = secrets
        self.no_cache = no_cache
        self.depot_cli_path = depot_cli_path
        self._process: StreamedProcess | None = None
        self._killed = False

    def validated(self) -> tuple[BuildSpec, str]:
        """The checked build, and the path of the depot CLI."""
        from ._build_spec import build_spec
        from ._depot_cli import find_depot_cli

        spec = build_spec(
            project_id=self.project_id,
            context=self.context,
            dockerfile=self.dockerfile,
            tags=self.tags,
            platforms=self.platforms,
            build_args=self.build_args,
            target=self.target,
            push=self.push,
            outputs=self.outputs,
            labels=self.labels,
            secrets=self.secrets,
            no_cache=self.no_cache,
            base_dir=self._dag_folder(),
        )
        return spec, find_depot_cli(self.depot_cli_path)

    def _dag_folder(self) -> Path | None:
        fileloc = self.dag.fileloc if self.has_dag() else None  # type: ignore[no-untyped-call]
        return Path(fileloc).parent if fileloc else None

    def call_depot(
        self, client: DepotClient, args: tuple[BuildSpec, str], context: Context
    ) -> dict[str, Any]:
        from ._build_finish import BuildCloser
        from ._build_secrets import resolve_secrets

        spec, cli = args
        secrets = run_validation(lambda: resolve_secrets(spec.secrets))
        created = client.builds.create_build(project_id=spec.project_id)
        mask_secret(created.build_token)
        build_id = created.build_id
        closer = BuildCloser(client, build_id, self.log)
        try:
            url = resolve_build_url(
                client, org_id=self.hook.config.org_id, project_id=spec.project_id, build_id=build_id
            )
            push_build_reference(context, build_id=build_id, url=url)
            self.log.info("Depot build %s created: %s", build_id, url)
            digest = self._run_cli(cli, spec, build_id, created.build_token, secrets)
        except BaseException as exc:
            closer.finish_if_running(self._failure_reason(exc))
            raise
        return {
            "build_id": build_id,
            "build_url": url,
            "project_id": spec.project_id,
            "tags": list(spec.tags),
            "digest": digest,
            "platforms": list(spec.platforms),
            "steps": self._steps_summary(client, spec.project_id, build_id),
        }

    def _run_cli(
        self, cli: str, spec: BuildSpec, build_id: str, build_token: str, secrets: ResolvedSecrets
    ) -> str | None:
        """Run ``depot build``; the image digest on success, AirflowException on failure."""
        from ._depot_cli import build_command, build_environment
        from ._process import StreamedProcess, describe_exit, inherited_environment, run_to_completion

        with tempfile.TemporaryDirectory(prefix="depot-build-") as workdir:
            metadata_file = Path(workdir) / "metadata.json"
            argv = build_command(cli, spec, metadata_file=metadata_file, secret_args=secrets.args)
            config = self.hook.config
            env = build_environment(
                inherited=inherited_environment(),
                api_url=config.base_url,
                project_id=spec.project_id,
                build_id=build_id,
                build_token=build_token,
                ca_bundle=config.verify if isinstance(config.verify, str) else None,
                extra=secrets.env,
            )
            if self._killed:
                raise AirflowTaskTerminated("the task was killed before the depot CLI started")
            self.log.info("Running %s", " ".join(argv))
            self._process = process = StreamedProcess(argv, env=env, cwd=Path(workdir), on_line=self.log.info)
            status = run_to_completion(process, grace=CLI_STOP_GRACE)
            if self._killed:
                raise AirflowTaskTerminated(f"the task was killed; the depot CLI {describe_exit(status)}")
            if status != 0:
                message = self._failure_message(build_id, spec.project_id, describe_exit(status), process)
                raise AirflowException(message)
            return _read_digest(metadata_file)

    def _failure_message(
        self, build_id: str, project_id: str, exit_text: str, process: StreamedProcess
    ) -> str:
        """Why the build failed: the failing step Depot recorded, else (the CLI failed before a
        step did, or the steps were not recorded) the CLI's own error line."""
        from ._build_summary import failure_cause

        client = self.hook.get_client()
        cause = failure_cause(client, project_id=project_id, build_id=build_id, log=self.log)
        if cause is None:
            cause = _cli_error(process.tail)
            reason = f"failed: {cause}" if cause else "failed"
        else:
            reason = f"failed at step {cause}"
        return f"Depot build {build_id} {reason} (the depot CLI {exit_text})"

    def _steps_summary(self, client: DepotClient, project_id: str, build_id: str) -> dict[str, Any] | None:
        from airflow_provider_depot.connect import ConnectError

        from ._build_summary import fetch_steps

        try:
            return fetch_steps(client, project_id=project_id, build_id=build_id).summary()
        except ConnectError as exc:
            self.log.warning("Build %s succeeded, but its steps could not be read: %s", build_id, exc)
            return None

    def _failure_reason(self, exc: BaseException) -> str:
        if self._killed:
            return "the Airflow task was killed"
        return f"the Airflow task failed: {type(exc).__name__}"

    def on_kill(self) -> None:
        """Stop the CLI (SIGTERM to its process group: it cancels the build; SIGKILL after
        3 s). Runs in the SIGTERM handler, so it only signals; ``execute``, interrupted and
        then resumed, waits for the CLI and finishes the build if the CLI did not."""
        self._killed = True
        process = self._process
        if process is not None and process.running:
            self.log.info("Stopping the depot CLI (pid %s); it cancels the build", process.pid)
            process.request_stop(CLI_STOP_GRACE)


def _cli_error(lines: Iterable[str]) -> str | None:
    """The CLI's last error line: its final verdict (``failed to solve: ...``, ``ERROR: ...``)
    if it printed one, else the last failing step (``#7 ERROR: ...``)."""
    lines = list(lines)
    for pattern in (_CLI_VERDICT, _CLI_STEP_ERROR):
        found = next((line for line in reversed(lines) if re.match(pattern, line)), None)
        if found is not None:
            return found.strip()
    return None


def _read_digest(metadata_file: Path) -> str | None:
    try:
        metadata = json.loads(metadata_file.read_text())
    except (OSError, ValueError):
        return None
    digest = metadata.get(_DIGEST_KEY) if isinstance(metadata, dict) else None
    return digest if isinstance(digest, str) else None
