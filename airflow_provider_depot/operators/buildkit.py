"""DepotBuildKitOperator: hold Depot BuildKit builders while a command of yours drives them."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowTaskTerminated
from airflow.sdk.log import mask_secret

from airflow_provider_depot.links.build import DepotBuildLink, push_build_reference, resolve_build_url

from ._base import DepotProjectOperator, require_flag

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_depot.client import BuildKitSession, DepotClient

    from ._build_spec import BuildKitSpec
    from ._process import StreamedProcess

DEFAULT_HEALTH_INTERVAL = 10.0
DEFAULT_ENDPOINT_TIMEOUT = 600.0
COMMAND_STOP_GRACE = 2.0  # seconds bash_command gets after SIGTERM before SIGKILL
# The client warns when no health report went out for this long; a few missed reports
# are noise, Depot itself waits 5 minutes.
_HEALTH_WARN_INTERVALS = 6
_HEALTH_WARN_MIN = 60.0


class DepotBuildKitOperator(DepotProjectOperator):
    """Run ``bash_command`` against Depot BuildKit builders: buildctl, ``docker buildx`` with the
    remote driver, dagger, anything that speaks BuildKit.

    The operator creates a build (build.v1 CreateBuild; XCom ``build_id`` and ``build_url`` are
    pushed at once), then for each platform opens a BuildKit session: GetEndpoint until the
    builder is active, and a health report every ``health_interval`` seconds in the
    background for as long as the command runs (ReportHealth streams of a few reports each,
    confirmed by their reply; see ``client._session_core``). The command runs in bash with:

    - ``BUILDKIT_HOST``: the first platform's endpoint (``tcp://host:port``);
    - ``DEPOT_BUILDKIT_CA_CERT``, ``DEPOT_BUILDKIT_CERT``, ``DEPOT_BUILDKIT_KEY``: paths of
      the mutual-TLS PEM files (a private 0700 directory, removed afterwards), and
      ``DEPOT_BUILDKIT_SERVER_NAME``, the name to verify the server as (not set for a
      plain-TCP endpoint);
    - the same variables suffixed with the platform, e.g. ``BUILDKIT_HOST_LINUX_ARM64``;
    - ``DEPOT_BUILDKIT_PLATFORMS`` (comma-separated), ``DEPOT_BUILD_ID``, ``DEPOT_PROJECT_ID``;
    - ``DEPOT_TOKEN`` (the build's token) only with ``expose_build_token=True``.

    Afterwards, always (success, failure, exception, on_kill): every endpoint is released
    (ReleaseEndpoint) and the build finished (FinishBuild), as successful when the command
    exited 0, else with an error. On kill the command's process group gets SIGTERM, then
    SIGKILL after 2 s. A task killed outright (SIGKILL) cannot release anything: its command
    is then stopped all the same (``setpriv --pdeathsig``, from util-linux), the health reports
    stop with the task, and Depot reclaims the builders after its health timeout. If Depot
    refuses to finish the build as successful (it expired the build, say, after health reports
    stopped reaching it), the task fails.

    Returns ``{build_id, platforms, exit_code}``; a non-zero exit fails the task.

    :param project_id: the Depot project (templated).
    :param bash_command: the command (templated).
    :param platforms: ``linux/amd64`` and/or ``linux/arm64`` (templated); default linux/amd64.
    :param health_interval: seconds between health reports.
    :param endpoint_timeout: seconds to wait for each builder to become active.
    :param env: extra environment variables for the command (templated).
    :param append_env: start from the worker's environment, without its ``DEPOT_*``,
        ``AIRFLOW_CONN_*`` and ``AIRFLOW_VAR_*`` variables (credentials the command is not
        meant to have); if False the command gets only ``env`` and the variables above.
    :param cwd: the command's working directory (templated); default a temporary directory.
    :param expose_build_token: put the build token into ``DEPOT_TOKEN`` (it stays masked in the log).
    """

    template_fields: Sequence[str] = (
        *DepotProjectOperator.template_fields,
        "bash_command",
        "platforms",
        "env",
        "cwd",
    )
    template_fields_renderers = {"bash_command": "bash"}
    operator_extra_links = (DepotBuildLink(),)

    def __init__(
        self,
        *,
        project_id: str,
        bash_command: str,
        platforms: Sequence[str] | None = None,
        health_interval: float = DEFAULT_HEALTH_INTERVAL,
        endpoint_timeout: float = DEFAULT_ENDPOINT_TIMEOUT,
        env: Mapping[str, str] | None = None,
        append_env: bool = True,
        cwd: str | None = None,
        expose_build_token: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(project_id=project_id, **kwargs)
        self.bash_command = bash_command
        self.platforms = platforms
        self.health_interval = health_interval
        self.endpoint_timeout = endpoint_timeout
        self.env = env
        self.append_env = append_env
        self.cwd = cwd
        self.expose_build_token = expose_build_token
        self._process: StreamedProcess | None = None
        self._acquiring = False  # entering the BuildKit sessions (waiting for builders)
        self._killed = False

    def validated(self) -> BuildKitSpec:
        from ._build_spec import buildkit_spec

        require_flag("append_env", self.append_env)
        require_flag("expose_build_token", self.expose_build_token)
        return buildkit_spec(
            project_id=self.project_id,
            bash_command=self.bash_command,
            platforms=self.platforms,
            health_interval=self.health_interval,
            endpoint_timeout=self.endpoint_timeout,
            env=self.env,
            cwd=self.cwd,
        )

    def call_depot(self, client: DepotClient, args: BuildKitSpec, context: Context) -> dict[str, Any]:
        from ._build_finish import BuildCloser

        created = client.builds.create_build(project_id=args.project_id)
        mask_secret(created.build_token)
        build_id = created.build_id
        closer = BuildCloser(client, build_id, self.log)
        error: str | None = None
        warn_after = max(_HEALTH_WARN_MIN, _HEALTH_WARN_INTERVALS * args.health_interval)
        try:
            url = resolve_build_url(
                client, org_id=self.hook.config.org_id, project_id=args.project_id, build_id=build_id
            )
            push_build_reference(context, build_id=build_id, url=url)
            self.log.info("Depot build %s created: %s", build_id, url)
            with contextlib.ExitStack() as sessions:
                self._acquiring = True
                held = [
                    sessions.enter_context(
                        client.buildkit.session(
                            build_id=build_id,
                            build_token=created.build_token,
                            platform=platform,
                            health_interval=args.health_interval,
                            health_warn_after=warn_after,
                            timeout=args.endpoint_timeout,
                        )
                    )
                    for platform in args.platforms
                ]
                self._acquiring = False
                status = self._run_command(args, held, created.build_token)
            error = self._command_error(status)
        except BaseException as exc:
            self._acquiring = False
            closer.finish(error or self._failure_reason(exc))
            raise
        closer.finish(error, strict=error is None)
        if error is not None:
            raise AirflowException(f"Depot build {build_id}: {error}")
        return {"build_id": build_id, "platforms": list(args.platforms), "exit_code": status}

    def _run_command(self, args: BuildKitSpec, sessions: list[BuildKitSession], build_token: str) -> int:
        from ._process import StreamedProcess, bash_argv, inherited_environment, run_to_completion

        if self._killed:
            raise AirflowTaskTerminated("the task was killed before bash_command started")
        env = inherited_environment() if self.append_env else {}
        env.update(args.env)
        env.update(buildkit_environment(sessions, project_id=args.project_id))
        if self.expose_build_token:
            env["DEPOT_TOKEN"] = build_token
        with tempfile.TemporaryDirectory(prefix="depot-buildkit-cwd-") as scratch:
            self._process = process = StreamedProcess(
                bash_argv(args.command), env=env, cwd=args.cwd or Path(scratch), on_line=self.log.info
            )
            status = run_to_completion(process, grace=COMMAND_STOP_GRACE)
        self.log.info("bash_command exited with status %s", status)
        return status

    def _command_error(self, status: int) -> str | None:
        from ._process import describe_exit

        if self._killed:
            return "the Airflow task was killed"
        return None if status == 0 else f"bash_command {describe_exit(status)}"

    def _failure_reason(self, exc: BaseException) -> str:
        if self._killed:
            return "the Airflow task was killed"
        return f"the Airflow task failed: {type(exc).__name__}: {exc}"

    def on_kill(self) -> None:
        """Runs in the task's SIGTERM handler, interrupting ``execute``: a running command gets
        SIGTERM (its process group; SIGKILL after 2 s), and ``execute`` resumes when it exits;
        a wait for builders is aborted by raising AirflowTaskTerminated into it. Either way
        ``execute`` then releases the builders and finishes the build with an error, within
        the 5 s a killed task has before its supervisor sends SIGKILL."""
        self._killed = True
        process = self._process
        if process is not None and process.running:
            self.log.info("Stopping bash_command (pid %s)", process.pid)
            process.request_stop(COMMAND_STOP_GRACE)
        elif self._acquiring:
            raise AirflowTaskTerminated("the task was killed while waiting for Depot builders")


def buildkit_environment(sessions: Sequence[BuildKitSession], *, project_id: str) -> dict[str, str]:
    """The variables that tell a BuildKit client where the builders are (see the class doc)."""
    env = {
        "DEPOT_BUILD_ID": sessions[0].build_id,
        "DEPOT_PROJECT_ID": project_id,
        "DEPOT_BUILDKIT_PLATFORMS": ",".join(s.platform for s in sessions),
    }
    for index, session in enumerate(sessions):
        values = {"BUILDKIT_HOST": session.endpoint}
        if session.connection.uses_tls:
            files = session.write_credentials()
            values.update(
                DEPOT_BUILDKIT_CA_CERT=str(files.ca_cert),
                DEPOT_BUILDKIT_CERT=str(files.cert),
                DEPOT_BUILDKIT_KEY=str(files.key),
                DEPOT_BUILDKIT_SERVER_NAME=session.server_name,
            )
        suffix = "_" + session.platform.replace("/", "_").upper()
        for key, value in values.items():
            env[key + suffix] = value
            if index == 0:
                env[key] = value
    return env
