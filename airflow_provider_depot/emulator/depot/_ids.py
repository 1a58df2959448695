"""Identifiers shaped like Depot's, and credentials.

Depot project and organization ids are 10 lowercase alphanumerics; build ids are similar with a
leading ``b`` here so they are easy to tell apart in logs. Ids come from a seedable generator (a
seed makes a run's ids reproducible); credentials always come from ``secrets``.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import string
import uuid

_ALPHABET = string.ascii_lowercase + string.digits


class IdFactory:
    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)

    def _alnum(self, length: int) -> str:
        return "".join(self._rng.choices(_ALPHABET, k=length))

    def organization_id(self) -> str:
        return self._alnum(10)

    def project_id(self) -> str:
        return self._alnum(10)

    def build_id(self) -> str:
        return "b" + self._alnum(11)

    def token_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def trust_policy_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def share_id(self) -> str:
        return self._alnum(24)


def project_token_secret() -> str:
    return "depot_project_" + secrets.token_hex(32)


def build_token_secret() -> str:
    return "depot_build_" + secrets.token_urlsafe(36)


def pull_token_secret() -> str:
    return "depot_pull_" + secrets.token_urlsafe(36)


def secret_digest(secret: str) -> str:
    """What the emulator keeps of a credential: its SHA-256, hex."""
    return hashlib.sha256(secret.encode()).hexdigest()
