"""BuildKit mTLS material on disk: a private 0700 directory holding 0600 PEM files."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuildKitCredentials:
    """Paths for ``buildctl --tlscacert/--tlscert/--tlskey`` or buildx ``--driver-opt cacert=...``."""

    directory: Path
    ca_cert: Path
    cert: Path
    key: Path


def write_credentials(*, ca_cert: str, cert: str, key: str) -> BuildKitCredentials:
    directory = Path(tempfile.mkdtemp(prefix="depot-buildkit-"))
    try:
        os.chmod(directory, 0o700)
        paths = {name: directory / f"{name}.pem" for name in ("ca", "cert", "key")}
        for name, text in (("ca", ca_cert), ("cert", cert), ("key", key)):
            fd = os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
    except BaseException:
        remove_credentials(directory)
        raise
    return BuildKitCredentials(directory, paths["ca"], paths["cert"], paths["key"])


def remove_credentials(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
