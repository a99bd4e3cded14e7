"""build_go_plugin: build a Go plugin package from a test, once per state of its sources.

The binary is cached under a key made of everything that decides what ``go build`` produces:
the Go version and build environment (``go env``), the build flags, and the sources of every
package the binary is made of (``go list -deps``): the file contents of packages of the main
module or of a module replaced by a local directory, the version of every other module (the
module cache holds those immutably, go.sum pins them). Editing a source, switching Go or
bumping a dependency gives a new binary; anything else reuses the cached one without linking.

Concurrent builds (pytest-xdist workers, parallel CI jobs on one cache) are safe: a file lock
per key lets one process build while the others wait, and the binary appears under its final
name only once complete (written aside, then renamed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import GoBuildError

__all__ = ["build_go_plugin", "default_cache_dir"]

# What `go env` reports that changes the binary go build makes.
_ENV_KEYS = (
    "GOVERSION",
    "GOOS",
    "GOARCH",
    "GOAMD64",
    "GOARM",
    "GOARM64",
    "GO386",
    "CGO_ENABLED",
    "CC",
    "CGO_CFLAGS",
    "CGO_LDFLAGS",
    "GOFLAGS",
    "GOEXPERIMENT",
    "GOTOOLCHAIN",
    "GOROOT",
)
# The package fields of `go list -json` that name files the compiler reads.
_FILE_FIELDS = (
    "GoFiles",
    "CgoFiles",
    "CFiles",
    "CXXFiles",
    "MFiles",
    "HFiles",
    "FFiles",
    "SFiles",
    "SwigFiles",
    "SwigCXXFiles",
    "SysoFiles",
    "EmbedFiles",
)
_LIST_FIELDS = ",".join(("ImportPath", "Name", "Dir", "Standard", "Module", *_FILE_FIELDS))


def default_cache_dir() -> Path:
    """``$GOPLUGIN_BUILD_CACHE``, else ``goplugin/go-plugins`` in the user's cache directory."""
    explicit = os.environ.get("GOPLUGIN_BUILD_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "goplugin" / "go-plugins"


def build_go_plugin(
    package: str = ".",
    *,
    module_dir: str | os.PathLike[str] = ".",
    name: str | None = None,
    build_flags: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    timeout: float = 900.0,
) -> Path:
    """Build the main package ``package`` of the Go module in ``module_dir`` and return the
    path of the binary, built at most once per state of its sources and Go version.

    ``package`` is what ``go build`` takes (``"./cmd/kv-plugin"``); ``build_flags`` go to it
    (``["-tags", "x"]``); ``env`` is added to this process's environment for ``go``. The
    binary is named after the package unless ``name`` is given. Raises
    :class:`~goplugin.errors.GoBuildError` with go's own output when Go is missing or the
    package does not build.
    """
    go = shutil.which("go")
    if go is None:
        raise GoBuildError("the Go toolchain is required to build Go plugins: go is not on PATH")
    workdir = Path(module_dir).resolve()
    go_env = {**os.environ, **(env or {})}
    digest = hashlib.sha256()
    _feed(digest, "goplugin-build-v1", package, *build_flags)
    toolchain = _go_json([go, "env", "-json", *_ENV_KEYS], workdir, go_env, timeout)
    _feed(digest, *(f"{key}={toolchain.get(key, '')}" for key in _ENV_KEYS))
    main_name = _hash_sources(digest, go, package, build_flags, workdir, go_env, timeout)
    binary_name = name or main_name
    key = digest.hexdigest()[:24]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{binary_name}-{key}"
    if _usable(target):
        return target
    with _locked(cache / f".{binary_name}-{key}.lock"):
        if _usable(target):  # another process built it while we waited
            return target
        fd, partial = tempfile.mkstemp(prefix=f".{binary_name}-", dir=cache)
        os.close(fd)
        try:
            _run([go, "build", "-o", partial, *build_flags, package], workdir, go_env, timeout)
            os.chmod(partial, 0o755)
            os.replace(partial, target)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    return target


def _feed(digest: Any, *items: str) -> None:
    for item in items:
        data = item.encode("utf-8", "surrogateescape")
        digest.update(len(data).to_bytes(8, "big") + data)


def _hash_sources(
    digest: Any,
    go: str,
    package: str,
    build_flags: Sequence[str],
    workdir: Path,
    env: Mapping[str, str],
    timeout: float,
) -> str:
    """Feed every input file of the binary (or its module's version) into ``digest``; return
    the name of the main package's directory."""
    listing = _run(
        [go, "list", "-deps", f"-json={_LIST_FIELDS}", *build_flags, package],
        workdir,
        env,
        timeout,
    )
    main_name = ""
    for pkg in _json_stream(listing):
        if pkg.get("Standard"):
            continue  # part of the toolchain: GOVERSION and GOROOT cover it
        module = pkg.get("Module") or {}
        _feed(digest, "package", str(pkg.get("ImportPath", "")))
        if pkg.get("Name") == "main" and pkg.get("Dir"):
            main_name = os.path.basename(str(pkg["Dir"]))
        replace = module.get("Replace") or {}
        local = module.get("Main") or not module or (replace and not replace.get("Version"))
        if not local:
            _feed(digest, "module", str(module.get("Path", "")), str(module.get("Version", "")))
            continue
        directory = Path(str(pkg.get("Dir", "")))
        for field in _FILE_FIELDS:
            for filename in pkg.get(field) or ():
                _feed(digest, field, str(filename))
                digest.update((directory / str(filename)).read_bytes())
        gomod = module.get("GoMod")
        if gomod and os.path.exists(str(gomod)):
            digest.update(Path(str(gomod)).read_bytes())
    if not main_name:
        raise GoBuildError(f"{package} (in {workdir}) is not a main package: nothing to run")
    return main_name


def _go_json(
    args: list[str], workdir: Path, env: Mapping[str, str], timeout: float
) -> dict[str, Any]:
    data = json.loads(_run(args, workdir, env, timeout))
    return data if isinstance(data, dict) else {}


def _json_stream(text: str) -> Iterator[dict[str, Any]]:
    """`go list -json` prints one JSON object after another, not an array."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return
        value, position = decoder.raw_decode(text, position)
        if isinstance(value, dict):
            yield value


def _run(args: list[str], workdir: Path, env: Mapping[str, str], timeout: float) -> str:
    try:
        result = subprocess.run(
            args,
            cwd=workdir,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GoBuildError(f"{' '.join(args[:3])} took longer than {timeout:g} s") from None
    except OSError as exc:
        raise GoBuildError(f"cannot run {args[0]} in {workdir}: {exc}") from exc
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise GoBuildError(f"{' '.join(args[1:3])} {args[-1]} failed in {workdir}:\n{output}")
    return result.stdout


def _usable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (a no-op where fcntl is missing: the rename into
    place keeps concurrent builds correct, only not deduplicated)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
