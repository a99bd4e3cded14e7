"""Developer tasks. `nox -s demo` and `nox -s lint tests docs package` are the README's commands.

Every session installs what it needs into its own virtualenv and builds the Go programs it runs
with the Go toolchain (go-plugin's examples from the Go module proxy, unmodified).
`nox -s tests` runs on every supported Python that is installed (`nox -s tests-3.11` on one).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
SDK = ROOT / "sdk-python"
BUILD = ROOT / ".build"
GO_PLUGIN = "github.com/hashicorp/go-plugin"
GO_PLUGIN_VERSION = "v1.8.0"
# The production plugin examples-py/terraform drives (v0.14.0 is no longer served).
TF_PROVIDER = "github.com/hashicorp/terraform-provider-time"
TF_PROVIDER_VERSION = "v0.14.1"

nox.options.sessions = ["lint", "tests", "docs", "package"]  # what CI runs
nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "uv|virtualenv"
# Test on the interpreters that are here; never fetch one (only package registries are reachable).
nox.options.download_python = "never"

#: The Pythons goplugin supports (sdk-python/pyproject.toml's requires-python and classifiers).
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def _runs(python: str) -> bool:
    try:
        return subprocess.run([python, "-c", ""], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _pyenv_bin(version: str) -> Path | None:
    """The bin directory of pyenv's newest installed ``version`` (e.g. 3.12 -> 3.12.1)."""
    versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [
        p
        for p in versions.glob(f"{version}.*")
        if p.name.split(".")[-1].isdigit() and (p / "bin" / f"python{version}").exists()
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda p: int(p.name.rsplit(".", 1)[1])) / "bin"


def installed_pythons() -> list[str]:
    """The supported Pythons this machine has, made findable for nox.

    pyenv's shims run only the versions `pyenv global`/`local` activate, and changing those
    would change every shell on a shared machine: instead the other installed versions' own bin
    directories go to the *end* of PATH, where they shadow nothing. Without pyenv, whatever
    `pythonX.Y` PATH has counts; the sessions' names say which versions ran.
    """
    found = []
    for version in SUPPORTED_PYTHONS:
        if _runs(f"python{version}"):
            found.append(version)
            continue
        bin_dir = _pyenv_bin(version)
        if bin_dir is not None and _runs(str(bin_dir / f"python{version}")):
            os.environ["PATH"] += os.pathsep + str(bin_dir)
            found.append(version)
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    return found or [current]


PYTHONS = installed_pythons()
#: The interop suite (real processes, most of the time) runs on the oldest and newest Python;
#: the unit tests on every one. Measured: the whole suite takes ~4 min a version on CI's 2
#: cores, unit tests ~1 min; all four in full would not fit CI's ~25 minutes with lint, docs
#: and package.
FULL_SUITE_PYTHONS = {PYTHONS[0], PYTHONS[-1]}

GRPC_TOOLS = "grpcio-tools==1.85.1"
RUFF = "ruff==0.17.5"
# The opt-in betterproto2 flavour (examples-py/gen_bp2): its runtime, and its compiler, which
# formats what it writes with ruff, pinned so that regenerated files stay byte-identical.
BETTERPROTO2 = "betterproto2==0.10.0"
BETTERPROTO2_CODEGEN = ["betterproto2-compiler==0.10.1", BETTERPROTO2, RUFF]
TEST_DEPS = [
    "pytest>=8",
    "pytest-timeout",
    "pytest-asyncio>=0.23",
    "hypothesis>=6.100",
    "psutil",
    GRPC_TOOLS,
    # The betterproto2 flavour's tests (and the freshness check of examples-py/gen_bp2) need
    # it installed: they fail without it, they never skip.
    *BETTERPROTO2_CODEGEN,
    # tests/unit/test_codegen_protos.py type-checks generated code.
    "mypy==2.4.1",
    "types-protobuf",
    "types-grpcio",
]
# mypy checks the tests too, so lint has what they import, and psutil's stubs.
LINT_DEPS = [*TEST_DEPS, "types-psutil"]


def _install_sdk(session: nox.Session, extras: str = "") -> None:
    session.install("-e", f"{SDK}{extras}")


def _go_install(session: nox.Session, group: str, *packages: str) -> Path:
    """Build go-plugin example packages, unmodified, at the pinned tag into .build/."""
    gobin = BUILD / "go-plugin-examples" / group
    session.run(
        "go",
        "install",
        *(f"{GO_PLUGIN}/{p}@{GO_PLUGIN_VERSION}" for p in packages),
        env={"GOBIN": str(gobin), "GOFLAGS": "-buildvcs=false"},
        external=True,
    )
    return gobin


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The test suite on every installed supported Python: unit tests on all, interop (real Go
    binaries and plugin processes) on the oldest and newest. Arguments go to pytest, on each.
    """
    missing = sorted(set(SUPPORTED_PYTHONS) - set(PYTHONS))
    if missing:
        session.warn(f"not installed, so not tested: Python {', '.join(missing)}")
    _install_sdk(session, "[codegen]")  # the extra as users get it (tomli on 3.10)
    session.install(*TEST_DEPS)
    session.run("go", "version", external=True)  # interop tests need Go: fail early, not skip
    if session.posargs:
        paths = session.posargs
    elif session.python in FULL_SUITE_PYTHONS:
        paths = ["tests"]
    else:
        interop = " and ".join(sorted(FULL_SUITE_PYTHONS))
        session.log(f"Python {session.python}: unit tests only (interop runs on {interop})")
        paths = ["tests/unit"]
    session.run("pytest", *paths, env={"CI": os.environ.get("CI", "1")})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint + format), mypy strict on the package, examples, bench and tests, and the
    freshness of the generated sync flavour."""
    _install_sdk(session, "[codegen]")
    session.install(*LINT_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run(
        "mypy",
        "--strict",
        str(SDK / "src" / "goplugin"),
        str(SDK / "src" / "_goplugin_pytestplugin.py"),
    )
    # The examples with the generated code they import (gen/ is checked through its stubs);
    examples = sorted((ROOT / "examples-py").glob("*.py"))
    session.run("mypy", "--strict", *map(str, examples))
    # bench and tests import the generated examples and the tests' helper modules.
    mypypath = os.pathsep.join([str(ROOT / "examples-py"), str(ROOT / "tests")])
    # ...and the tests of the Terraform example import its modules.
    tests_mypypath = os.pathsep.join([mypypath, str(ROOT / "examples-py" / "terraform")])
    session.run("mypy", "--strict", str(ROOT / "bench"), env={"MYPYPATH": mypypath})
    session.run("mypy", "--strict", str(ROOT / "tests"), env={"MYPYPATH": tests_mypypath})
    session.run("python", str(SDK / "scripts" / "unasync.py"), "--check")


DOCS_DEPS = [
    "sphinx==9.0.4",
    "myst-parser==5.2.0",
    "furo==2025.12.19",
    "sphinxcontrib-mermaid==2.1.1",
]


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation (docs/, Sphinx: docs/README.md says why) into docs/_build/html,
    strictly: any warning, a broken cross-reference included, fails."""
    _install_sdk(session)
    session.install(*DOCS_DEPS)
    out = ROOT / "docs" / "_build" / "html"
    session.run(
        "sphinx-build", "-W", "--keep-going", "-n", "-q", "-E", "-b", "html", "docs", str(out)
    )
    session.log(f"documentation: {out / 'index.html'}")


@nox.session
def package(session: nox.Session) -> None:
    """Build the sdist and the wheel (from the sdist), install the wheel with its codegen extra
    into a clean venv outside the checkout, and from there run a Python host against a Go
    plugin and a Go host against a Python plugin (tests/package_smoke.py).
    """
    session.install("build")
    _go_install(session, "grpc", "examples/grpc", "examples/grpc/plugin-go-grpc")
    with tempfile.TemporaryDirectory(prefix="goplugin-package-") as tmp:
        outside = Path(tmp)
        dist = outside / "dist"
        session.run("python", "-m", "build", "--outdir", str(dist), str(SDK))
        (wheel,) = dist.glob("goplugin-*.whl")
        (sdist,) = dist.glob("goplugin-*.tar.gz")
        session.log(f"built {sdist.name} and {wheel.name}")
        venv = outside / "venv"
        session.run("python", "-m", "venv", str(venv))
        python = str(venv / "bin" / "python")
        wheel_spec = f"goplugin[codegen] @ {wheel.as_uri()}"
        session.run(python, "-m", "pip", "install", "-q", wheel_spec, external=True)
        work = outside / "work"
        work.mkdir()
        env = {"PYTHONPATH": None}  # nothing of the checkout on the path
        with session.chdir(work):
            session.run(
                python,
                str(ROOT / "tests" / "package_smoke.py"),
                str(ROOT),
                str(BUILD / "go-plugin-examples"),
                env=env,
                external=True,
            )


@nox.session
def codegen(session: nox.Session) -> None:
    """Regenerate every generated file: the jobs of pyproject.toml's [[tool.goplugin.codegen]]
    (go-plugin's internal protos, the example contracts in Python and Go) and the sync flavour.
    """
    _install_sdk(session)
    session.install(GRPC_TOOLS, *BETTERPROTO2_CODEGEN)
    session.run("python", "-m", "goplugin.codegen", "--config", str(ROOT / "pyproject.toml"))
    session.run("python", str(SDK / "scripts" / "unasync.py"))


# The other Python go-plugin implementations and stacks the bench measures next to ours, in the
# same run (bench/README.md). Installed into the bench session only: never a dependency of
# goplugin or of the tests.
BENCH_PEERS = ["python-plugin==0.1.0", "pyvider-rpcplugin==0.5.5", "grpclib==0.4.9"]


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks, not tests: every host/plugin pairing side by side, as ratios to Go<->Go and
    raw grpcio measured in the same run (bench/README.md). `nox -s bench -- --quick` takes
    about a minute. Builds what it runs; prints one table and writes bench/results/*.json.
    """
    _install_sdk(session)
    session.install(*BENCH_PEERS)
    session.run("go", "version", external=True)
    session.run(
        "python",
        "-m",
        "bench.run",
        *session.posargs,
        env={"PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "examples-py")])},
    )


@nox.session
def terraform(session: nox.Session) -> None:
    """A production Go plugin from Python: examples-py/terraform drives hashicorp's
    terraform-provider-time, installed unmodified with `go install`, through tfplugin5 code
    generated from terraform-plugin-go's module in Go's module cache (both under .build/)."""
    _install_sdk(session)
    session.install(GRPC_TOOLS)
    gobin = BUILD / "go-install" / f"{TF_PROVIDER.replace('/', '_')}@{TF_PROVIDER_VERSION}"
    provider = gobin / TF_PROVIDER.rsplit("/", 1)[-1]
    if not provider.exists():  # a first build takes about a minute
        session.run(
            "go",
            "install",
            f"{TF_PROVIDER}@{TF_PROVIDER_VERSION}",
            env={"GOBIN": str(gobin), "GOFLAGS": "-buildvcs=false"},
            external=True,
        )
    example = ROOT / "examples-py" / "terraform"
    session.run("python", str(example / "prepare.py"), str(BUILD / "tfplugin5"))
    env = {"PYTHONPATH": str(BUILD / "tfplugin5")}
    for script, *args in (("tf_host.py", "--mtls"), ("tf_host_aio.py",)):
        session.run("python", str(example / script), str(provider), *args, env=env)


@nox.session
def soak(session: nox.Session) -> None:
    """Reliability soak, not a test: thousands of launches, kills, calls, streams and deadlines
    against the fault plugins (tests/soak). `nox -s soak -- --quick` takes about two minutes,
    the full run up to twenty; `-- --phases cycles,deadlines` and `-- --scale 0.5` pick and
    size. Prints a table and writes docs/reliability.md (figures, date, machine, load).
    """
    _install_sdk(session)
    session.install("psutil")
    session.run("go", "version", external=True)
    session.run(
        "python",
        "-m",
        "soak",
        *session.posargs,
        env={"PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), str(ROOT / "examples-py")])},
    )


@nox.session
def demo(session: nox.Session) -> None:
    """Python host <-> go-plugin's own Go examples, built unmodified from its module."""
    _install_sdk(session)
    _go_install(session, "grpc", "examples/grpc", "examples/grpc/plugin-go-grpc")
    _go_install(
        session, "bidirectional", "examples/bidirectional", "examples/bidirectional/plugin-go-grpc"
    )
    _go_install(session, "basic", "examples/basic", "examples/basic/plugin")
    session.run(
        "python",
        str(ROOT / "examples-py" / "demo.py"),
        "--go-examples",
        str(BUILD / "go-plugin-examples"),
        *session.posargs,
        env={"PYTHONPATH": str(ROOT / "examples-py")},
    )
