"""SecureConfig: refuse to run a plugin binary whose hash is not the expected one."""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
from dataclasses import dataclass

from ..errors import ChecksumError

__all__ = ["SecureConfig"]


@dataclass(frozen=True, init=False)
class SecureConfig:
    """The expected digest of the plugin executable (go-plugin's SecureConfig).

    ``SecureConfig(sha256="9f86d0...")`` (hex) or ``SecureConfig(sha256=raw_bytes)``; any
    algorithm of :mod:`hashlib` works as the keyword.
    """

    algorithm: str
    digest: bytes

    def __init__(self, **expected: str | bytes) -> None:
        if len(expected) != 1:
            raise ValueError("SecureConfig takes exactly one algorithm=digest, e.g. sha256=...")
        ((algorithm, digest),) = expected.items()
        if algorithm not in hashlib.algorithms_available:
            raise ValueError(f"unknown hash algorithm {algorithm!r}")
        raw = bytes.fromhex(digest) if isinstance(digest, str) else bytes(digest)
        if not raw:
            raise ValueError("no checksum provided")
        object.__setattr__(self, "algorithm", algorithm)
        object.__setattr__(self, "digest", raw)

    @classmethod
    def of_file(cls, path: str | os.PathLike[str], algorithm: str = "sha256") -> SecureConfig:
        """The config that accepts exactly the file at ``path`` as it is now."""
        return cls(**{algorithm: _hash_file(os.fspath(path), algorithm)})

    def check(self, program: str) -> str:
        """Verify ``program`` (looked up on PATH like exec does); returns its path."""
        path = program if os.sep in program else (shutil.which(program) or program)
        try:
            actual = _hash_file(path, self.algorithm)
        except OSError as exc:
            raise ChecksumError(f"error verifying checksum: {exc}") from exc
        if not hmac.compare_digest(actual, self.digest):
            raise ChecksumError(
                f"checksums did not match: {path} has {self.algorithm} {actual.hex()}, "
                f"expected {self.digest.hex()}"
            )
        return path


def _hash_file(path: str, algorithm: str) -> bytes:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.digest()
