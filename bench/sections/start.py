"""4. Start-up: exec → handshake line (measured here) and launch → first call done (measured in
the hosts), cold and warm, with `python -c pass` and `python -c "import grpc"` as references.

Cold means: the files the start reads are dropped from the page cache just before it, per file
(bench/_cold.py, no root): a Go plugin is a freshly written copy of the binary (what a first
run after `go build` sees, minus the build's own cache), a Python start has every module file
it loads (interpreter, libpython, stdlib, grpc, protobuf, goplugin, bytecode) dropped. Pages
that running processes have mapped cannot be dropped, and the note says how many stayed.
Warm is the same start again right after.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from time import perf_counter_ns as _now
from typing import TYPE_CHECKING, Any

from .._build import ROOT
from .._cold import evict, fresh_copy, probe_python_files, resident_fraction
from .._report import Row
from .._stats import median
from .._subjects import SERVERS
from .unary import PLUGIN_PYTHON_ADDRESS, port_taken

if TYPE_CHECKING:
    from .._context import Context
    from .._driver import Driver

SECTION_HS = "4a. start-up: exec → handshake line (references: exec → exit)"
SECTION_CALL = "4b. start-up: launch → first call done, measured in the host"
COOKIES = {"kv": ("BASIC_PLUGIN", "hello")}
IMPORT_GRPC = "import grpc; print(flush=True)"


class _Starts:
    """Everything cold starts need: the Python file set and a Go binary to refresh."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.dir = ctx.workdir / "start"
        self.dir.mkdir()
        scripts = [ROOT / "bench/plugins/kv_plugin.py", ROOT / "bench/plugins/kv_plugin_aio.py"]
        scripts += [sv.scripts()[0] for sv in SERVERS if sv.kv and sv.missing() is None]
        files: list[Path] = []
        for script in scripts:
            files += probe_python_files(ctx.python, script, ctx.env, self.dir)
        files += [p for p in ctx.built.plugin_python.rglob("*") if p.is_file()]
        self.python_files = list(dict.fromkeys(files))
        self.go_kv = self.dir / "kv-plugin"  # replaced by a fresh copy before each cold start
        shutil.copy2(ctx.built.go_kv, self.go_kv)
        self.resident: list[float] = []

    def make_cold(self, kind: str) -> None:
        if kind == "go":
            os.replace(fresh_copy(self.ctx.built.go_kv, self.dir / "fresh"), self.go_kv)
        else:
            evict(self.python_files)
            self.resident.append(resident_fraction(self.python_files))


def _plugin_env(ctx: Context, socket_dir: Path) -> dict[str, str]:
    key, value = COOKIES["kv"]
    return {
        **ctx.env,
        key: value,
        "PLUGIN_PROTOCOL_VERSIONS": "1",
        "PLUGIN_MIN_PORT": "10000",
        "PLUGIN_MAX_PORT": "25000",
        "PLUGIN_UNIX_SOCKET_DIR": str(socket_dir),
    }


def exec_to_line(argv: list[str], env: dict[str, str], cwd: Path, *, until_exit: bool) -> float:
    """Milliseconds from exec to the first stdout line (or to exit, for the references)."""
    start = _now()
    proc = subprocess.Popen(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        if until_exit:
            proc.wait(60)
            return (_now() - start) / 1e6
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            data = b""
            while b"\n" not in data:
                if not sel.select(60):
                    raise RuntimeError(f"{argv}: no handshake within 60 s")
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError(f"{argv}: exited before its handshake")
                data += chunk
        return (_now() - start) / 1e6
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()


def _handshake_rows(ctx: Context, starts: _Starts) -> list[Row]:
    py = ctx.python
    subjects: dict[str, tuple[str, str, list[str], bool]] = {
        # key: (label, cold kind, argv, until exit)
        # The baseline stops at a printed line, like a handshake; the literal commands below
        # run to exit, which adds the interpreter's (and grpc's) shutdown.
        "import-grpc": ('python -c "import grpc; print()"', "py", [py, "-c", IMPORT_GRPC], False),
        "import-grpc-exit": (
            'python -c "import grpc" (to exit)',
            "py",
            [py, "-c", "import grpc"],
            True,
        ),
        "pass": ("python -c pass (to exit)", "py", [py, "-c", "pass"], True),
        "go-kv": ("Go plugin (kv-plugin)", "go", [str(starts.go_kv)], False),
        "py-kv": ("Python plugin (serve, grpcio)", "py", ctx.plugins["py-kv"], False),
        "py-kv-aio": ("Python plugin (aio.serve, grpcio)", "py", ctx.plugins["py-kv-aio"], False),
        "plugin-python": ("go-plugin's plugin-python", "py", ctx.plugins["plugin-python"], False),
    }
    # Every other Python plugin server of bench/_subjects.py (raw stacks, peers).
    missing: dict[str, str] = {}
    for sv in SERVERS:
        argv = sv.argv(py, "kv")
        if sv.key in ("goplugin", "goplugin-aio") or argv is None:
            continue
        if sv.missing():
            missing[f"srv-{sv.key}"] = sv.missing() or ""
            continue
        subjects[f"srv-{sv.key}"] = (sv.label, "py", argv, False)
    if port_taken(PLUGIN_PYTHON_ADDRESS):
        del subjects["plugin-python"]
    samples: dict[str, dict[str, list[list[float]]]] = {
        k: {"cold": [], "warm": []} for k in subjects
    }
    keys = list(subjects)
    for r in range(ctx.settings.start_rounds):
        for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
            _, kind, argv, until_exit = subjects[key]
            socket_dir = starts.dir / f"sock-{key}"
            socket_dir.mkdir(exist_ok=True)
            env = _plugin_env(ctx, socket_dir)
            starts.make_cold(kind)
            cold = exec_to_line(argv, env, starts.dir, until_exit=until_exit)
            warm = exec_to_line(argv, env, starts.dir, until_exit=until_exit)
            samples[key]["cold"].append([cold])
            samples[key]["warm"].append([warm])
    rows = []
    for temp in ("warm", "cold"):
        for key, (label, *_rest) in subjects.items():
            base = f"start.handshake.import-grpc.{temp}"
            row = Row(
                SECTION_HS,
                f"start.handshake.{key}.{temp}",
                f"{label}, {temp}",
                "ms",
                samples[key][temp],
                base,
            )
            if key == "import-grpc":
                row.baseline = None
            rows.append(row)
    for key, reason in missing.items():
        label = next(sv.label for sv in SERVERS if f"srv-{sv.key}" == key)
        rows.append(Row(SECTION_HS, f"start.handshake.{key}", label, "ms", na=reason))
    if port_taken(PLUGIN_PYTHON_ADDRESS) and "plugin-python" not in subjects:
        rows.append(
            Row(
                SECTION_HS,
                "start.handshake.plugin-python",
                "go-plugin's plugin-python",
                "ms",
                na="127.0.0.1:1234 (its fixed address) is in use",
            )
        )
    return rows


def _first_call_rows(ctx: Context, starts: _Starts) -> list[Row]:
    go, py = [str(starts.go_kv)], ctx.plugins["py-kv"]
    subjects: dict[str, tuple[str, str, Callable[[], Driver]]] = {
        "go-go": (
            "Go host → Go plugin",
            "go",
            lambda: ctx.go_host("st-go-go", "kv", go, lazy=True),
        ),
        "py-go": (
            "Python host → Go plugin",
            "go",
            lambda: ctx.py_host("st-py-go", "sync", "kv", go, lazy=True),
        ),
        "raw-go": (
            "raw grpcio (no SDK) → Go plugin",
            "go",
            lambda: ctx.py_host("st-raw-go", "raw", "kv", go, lazy=True),
        ),
        "go-py": (
            "Go host → Python plugin",
            "py",
            lambda: ctx.go_host("st-go-py", "kv", py, lazy=True),
        ),
        "py-py": (
            "Python host → Python plugin",
            "py",
            lambda: ctx.py_host("st-py-py", "sync", "kv", py, lazy=True),
        ),
    }
    samples: dict[str, dict[str, list[list[float]]]] = {
        k: {"cold": [], "warm": []} for k in subjects
    }

    def ms(reply: dict[str, Any]) -> list[float]:
        return [reply["first_call_ns"] / 1e6]

    with ctx.started({k: make for k, (_, _, make) in subjects.items()}) as drivers:
        keys = list(drivers)
        for d in drivers.values():  # the hosts' own first-launch costs are not the plugin's
            d.ask("launch")
        for r in range(ctx.settings.start_rounds):
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                starts.make_cold(subjects[key][1])
                samples[key]["cold"].append(ms(drivers[key].ask("launch")))
                samples[key]["warm"].append(ms(drivers[key].ask("launch")))
    rows = []
    for temp in ("warm", "cold"):
        for key, (label, _, _) in subjects.items():
            row = Row(
                SECTION_CALL,
                f"start.first-call.{key}.{temp}",
                f"{label}, {temp}",
                "ms",
                samples[key][temp],
                f"start.first-call.go-go.{temp}",
            )
            if key == "go-go":
                row.baseline = None
            rows.append(row)
    return rows


def run(ctx: Context) -> list[Row]:
    starts = _Starts(ctx)
    rows = _handshake_rows(ctx, starts)
    resident_hs = median(starts.resident)
    starts.resident.clear()
    rows += _first_call_rows(ctx, starts)
    resident_call = median(starts.resident)
    for row in rows:
        if row.key.endswith(".cold") and not row.na:
            share = resident_hs if row.section == SECTION_HS else resident_call
            row.note = f"{share:.0%} of Python's file pages stayed cached (mapped elsewhere)"
    return rows
