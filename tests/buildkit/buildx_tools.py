"""A real BuildKit client for the tests: the docker CLI with the docker-buildx plugin.

scripts/install_build_tools.sh unpacks docker-buildx into <repo>/.cache/docker-cli-plugins; each
test session gives the CLI a private DOCKER_CONFIG holding that plugin, so builders the tests
create never touch the user's docker configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from required_tools import require_tool

from airflow_provider_depot.emulator._certs import BuildCredentials

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run scripts/install_build_tools.sh"
_SYSTEM_PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")


def require(available: bool, reason: str) -> None:
    require_tool(available, f"{reason} ({INSTALL_HINT})")


def find_buildx_plugin() -> Path | None:
    """docker-buildx from $DOCKER_CLI_PLUGINS_DIR, the repo's .cache, or the system plugin dirs."""
    candidates = [
        *(Path(d) for d in [os.environ.get("DOCKER_CLI_PLUGINS_DIR", "")] if d),
        REPO_ROOT / ".cache" / "docker-cli-plugins",
        *(Path(d) for d in _SYSTEM_PLUGIN_DIRS),
    ]
    return next((d / "docker-buildx" for d in candidates if os.access(d / "docker-buildx", os.X_OK)), None)


@dataclass(frozen=True)
class Buildx:
    """``docker buildx`` with a private DOCKER_CONFIG."""

    docker: str
    config_dir: Path

    def run(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "BUILDX_", "BUILDKIT_"))}
        env["DOCKER_CONFIG"] = str(self.config_dir)
        result = subprocess.run(
            [self.docker, "buildx", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker buildx {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def create_remote(self, name: str, endpoint: str, tls: TLSFiles | None = None) -> None:
        args = ["create", "--name", name, "--driver", "remote"]
        if tls is not None:
            args += ["--driver-opt", tls.driver_opts()]
        self.run(*args, endpoint)

    def build_local(
        self, builder: str, context: Path, dest: Path, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Build ``context`` on ``builder`` and export the result's files into ``dest``."""
        return self.run(
            "build", "--builder", builder, "--progress", "plain", "--network", "none",
            "--output", f"type=local,dest={dest}", str(context), check=check,
        )  # fmt: skip


@dataclass(frozen=True)
class TLSFiles:
    """A build client's mTLS material as files, the way BuildKit clients take it."""

    cacert: Path
    cert: Path
    key: Path
    servername: str

    @classmethod
    def write(cls, credentials: BuildCredentials, directory: Path) -> TLSFiles:
        directory.mkdir(parents=True, exist_ok=True)
        files = cls(
            directory / "ca.pem", directory / "cert.pem", directory / "key.pem", credentials.server_name
        )
        files.cacert.write_text(credentials.ca_cert_pem)
        files.cert.write_text(credentials.client_cert_pem)
        files.key.write_text(credentials.client_key_pem)
        files.key.chmod(0o600)
        return files

    def driver_opts(self) -> str:
        return f"cacert={self.cacert},cert={self.cert},key={self.key},servername={self.servername}"


def make_buildx(config_dir: Path) -> Buildx:
    """The docker CLI plus docker-buildx, or skip/fail (CI) when either is missing."""
    docker = shutil.which("docker")
    require(docker is not None, "no docker CLI on PATH")
    plugin = find_buildx_plugin()
    require(plugin is not None, "no docker-buildx plugin")
    assert docker is not None and plugin is not None
    (config_dir / "cli-plugins").mkdir(parents=True, exist_ok=True)
    (config_dir / "cli-plugins" / "docker-buildx").symlink_to(plugin)
    buildx = Buildx(docker, config_dir)
    buildx.run("version")
    return buildx


def expected_image_files(context: Path) -> dict[str, bytes]:
    """What the conftest's build_context image holds: its files/ under app/, plus app/VERSION."""
    files = {
        f"app/{path.relative_to(context / 'files').as_posix()}": path.read_bytes()
        for path in (context / "files").rglob("*")
        if path.is_file()
    }
    files["app/VERSION"] = (context / "VERSION").read_bytes()
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` by relative POSIX path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }
