"""The run's shared state: settings (full or --quick), built programs, drivers and plugins."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._build import ROOT, Built
from ._driver import Driver, DriverError

__all__ = ["Context", "Settings", "interleave"]

BENCH_VALUE = b"0123456789abcdef"  # bench/drivers/_protocol.py's value, stored for lazy drivers


@dataclass(frozen=True)
class Settings:
    """How much of everything one run measures. Rounds interleave all rows of a section."""

    unary_rounds: int = 60
    unary_calls: int = 150
    echo_rounds: int = 8
    echo_calls: int = 10
    bidi_rounds: int = 2
    bidi_messages: int = 100_000
    start_rounds: int = 10
    conc_rounds: int = 3
    conc8_rounds: int = 20
    conc8_calls: int = 800
    conc_calls: tuple[tuple[int, int], ...] = ((1, 1000), (16, 4000), (256, 8000))
    scale_rounds: int = 2
    scale_plugins: int = 100
    floor_rounds: int = 10
    floor_trips: int = 5000

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            unary_rounds=12,
            unary_calls=60,
            echo_rounds=3,
            echo_calls=4,
            bidi_rounds=1,
            bidi_messages=5_000,
            start_rounds=2,
            conc_rounds=1,
            conc8_rounds=6,
            conc8_calls=200,
            conc_calls=((1, 200), (16, 800), (256, 1536)),
            scale_rounds=1,
            scale_plugins=100,
            floor_rounds=3,
            floor_trips=1000,
        )


class Context:
    def __init__(self, built: Built, settings: Settings, workdir: Path) -> None:
        self.built = built
        self.settings = settings
        self.workdir = workdir
        self.python = sys.executable
        # Drivers and Python plugins find the bench package, the generated examples and
        # whatever PYTHONPATH already says (the SDK, in a checkout without an install).
        paths = [str(ROOT), str(ROOT / "examples-py")]
        if os.environ.get("PYTHONPATH"):
            paths.append(os.environ["PYTHONPATH"])
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        self._count = 0
        self._compile_bytecode()

    def _compile_bytecode(self) -> None:
        """Write the bytecode of our Python code, as ``pip install`` does for an installed SDK.

        Otherwise a checkout (or an editable install) under PYTHONDONTWRITEBYTECODE compiles
        the SDK and the generated code from source at every plugin start: 30-40 ms that no
        installed plugin pays. go-plugin's plugin-python runs from the read-only module cache
        as it is, like anyone running it there.
        """
        code = (
            "import compileall, importlib.util, sys; "
            "spec = importlib.util.find_spec('goplugin'); "
            "dirs = [*spec.submodule_search_locations, *sys.argv[1:]]; "
            "sys.exit(not all(compileall.compile_dir(d, quiet=1) for d in dirs))"
        )
        dirs = [str(ROOT / "examples-py"), str(ROOT / "bench")]
        subprocess.run([self.python, "-c", code, *dirs], env=self.env, check=True)

    # -- plugin command lines ------------------------------------------------------------

    def py_plugin(self, script: str | Path) -> list[str]:
        path = Path(script)
        return [self.python, str(path if path.is_absolute() else ROOT / path)]

    def _engine(self, engine: str, script: str) -> list[str]:
        return [*self.py_plugin("bench/plugins/with_engine.py"), engine, str(ROOT / script)]

    @property
    def plugins(self) -> dict[str, list[str]]:
        b = self.built
        return {
            "go-kv": [str(b.go_kv)],
            # Python plugins name their serving engine: the defaults may change, rows do not.
            "py-kv": [*self.py_plugin("bench/plugins/kv_plugin.py"), "--engine=grpcio"],
            "py-kv-tcp": [
                *self.py_plugin("bench/plugins/kv_plugin.py"),
                "--tcp",
                "--engine=grpcio",
            ],
            "py-kv-aio": [*self.py_plugin("bench/plugins/kv_plugin_aio.py"), "--engine=grpcio"],
            "py-kv-pure": [*self.py_plugin("bench/plugins/kv_plugin.py"), "--engine=pure"],
            "py-kv-aio-pure": [*self.py_plugin("bench/plugins/kv_plugin_aio.py"), "--engine=pure"],
            "plugin-python": self.py_plugin(b.plugin_python / "plugin.py"),
            "go-streaming": [str(b.go_streaming)],
            "py-streaming": self._engine("grpcio", "examples-py/streaming_plugin.py"),
            "py-streaming-aio": self._engine("grpcio", "examples-py/streaming_plugin_aio.py"),
            "py-streaming-pure": self._engine("pure", "examples-py/streaming_plugin.py"),
            "py-streaming-aio-pure": self._engine("pure", "examples-py/streaming_plugin_aio.py"),
            "greeter": [str(b.greeter)],
            "py-greeter": self.py_plugin("examples-py/greeter_plugin.py"),
        }

    # -- drivers -------------------------------------------------------------------------

    def _cwd(self, name: str) -> Path:
        self._count += 1
        cwd = self.workdir / f"{self._count:02d}-{name}"
        cwd.mkdir(parents=True)
        (cwd / "kv_bench").write_bytes(BENCH_VALUE)  # KV plugins keep keys in their cwd
        return cwd

    def go_host(
        self, name: str, contract: str, plugin: list[str], *, lazy: bool = False, tls: bool = False
    ) -> Driver:
        argv = [str(self.built.benchhost), "-contract", contract]
        argv += ["-lazy"] if lazy else []
        argv += ["-automtls"] if tls else []
        return Driver(name, [*argv, "--", *plugin], cwd=self._cwd(name), env=self.env)

    def py_host(
        self,
        name: str,
        flavour: str,
        contract: str,
        plugin: list[str],
        *,
        lazy: bool = False,
        tls: bool = False,
    ) -> Driver:
        argv = [self.python, "-m", "bench.drivers.pyhost", flavour, contract]
        argv += ["--lazy"] if lazy else []
        argv += ["--tls"] if tls else []
        return Driver(name, [*argv, "--", *plugin], cwd=self._cwd(name), env=self.env)

    @contextmanager
    def started(
        self, drivers: dict[str, Callable[[], Driver]], *, failed: dict[str, str] | None = None
    ) -> Iterator[dict[str, Driver]]:
        """Start every driver, wait until all are ready, and close them all at the end.

        With ``failed``, a driver that cannot start is left out and its reason (the error's
        first line) recorded there, so its row says why instead of stopping the run.
        """
        live: dict[str, Driver] = {}
        try:
            for key, make in drivers.items():
                live[key] = make()
            for key, driver in list(live.items()):
                try:
                    driver.ready()
                except DriverError as exc:
                    if failed is None:
                        raise
                    failed[key] = _first_line(exc)
                    live.pop(key).close()
            yield live
        finally:
            for driver in live.values():
                driver.close()


def _first_line(exc: DriverError) -> str:
    """The error itself, without the driver's log tail: ``name: 'start': reason``."""
    lines = str(exc).splitlines()
    reason = lines[0].split(": ", 2)[-1] if lines else "failed"
    details = [line.strip() for line in lines[1:] if "Error" in line or "error" in line]
    return f"{reason}: {details[-1]}"[:160] if details else reason[:160]


def interleave(
    drivers: dict[str, Driver],
    command: str,
    rounds: int,
    extract: Callable[[dict[str, Any]], list[float]],
) -> dict[str, list[list[float]]]:
    """Ask every driver ``command`` once per round, in an order that rotates each round.

    Back-to-back rounds put every row under the same machine load; rotating the order keeps
    any row from always running right after the same neighbour.
    """
    keys = list(drivers)
    out: dict[str, list[list[float]]] = {k: [] for k in keys}
    for r in range(rounds):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            out[key].append(extract(drivers[key].ask(command)))
    return out
