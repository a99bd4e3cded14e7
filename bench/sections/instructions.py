"""4c. Start-up in instructions: exec → handshake line counted by callgrind, not timed.

Wall time of a start moves by tens of percent on a loaded machine; the instructions a start
executes barely move, so this is the start-up figure to compare while others share the VM.
Every start runs under ``valgrind --tool=callgrind`` (all threads counted together); when its
first stdout line appears, ``callgrind_control --dump`` writes the count so far and the process
is killed. The references run to their exit. Opt-in (``--only instructions``): each start
takes 10-60 s under valgrind. Needs valgrind (Debian's package); without it the rows say so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .._report import Row
from .._subjects import SERVERS
from .start import _plugin_env

if TYPE_CHECKING:
    from .._context import Context

SECTION = "4c. start-up in instructions (callgrind): exec → handshake line"
ROUNDS = 1  # deterministic to well under 1 %: one start each


def _count(argv: list[str], env: dict[str, str], cwd: Path, *, until_exit: bool) -> float:
    """Millions of instructions from exec to the first stdout line (or to exit)."""
    out = cwd / f"callgrind.{time.monotonic_ns()}"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", *argv]
    proc = subprocess.Popen(
        cmd,
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
            proc.wait(600)
        else:
            if not proc.stdout.readline():
                raise RuntimeError(f"{argv}: exited before its first line")
            subprocess.run(
                ["callgrind_control", "--dump=handshake", str(proc.pid)],
                capture_output=True,
                timeout=120,
                check=True,
            )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    total = 0
    for dump in cwd.glob(f"{out.name}.*"):
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
        dump.unlink()
    if not total:
        raise RuntimeError(f"{argv}: callgrind wrote no count")
    return total / 1e6


def run(ctx: Context) -> list[Row]:
    py = ctx.python
    subjects: dict[str, tuple[str, list[str], bool]] = {
        "import-grpc-exit": ('python -c "import grpc" (to exit)', [py, "-c", "import grpc"], True),
        "import-grpc": (
            'python -c "import grpc; print()"',
            [py, "-c", "import grpc; print(flush=True)"],
            False,
        ),
        "pass": ("python -c pass (to exit)", [py, "-c", "pass"], True),
    }
    na: dict[str, str] = {}
    for sv in SERVERS:
        argv = sv.argv(py, "kv")
        if argv is None:
            continue
        subjects[sv.key] = (sv.label, argv, False)
        if sv.missing():
            na[sv.key] = sv.missing() or ""
    tools = [t for t in ("valgrind", "callgrind_control") if shutil.which(t) is None]
    work = ctx.workdir / "instructions"
    work.mkdir()
    (work / "kv_bench").write_bytes(b"0123456789abcdef")
    samples: dict[str, list[list[float]]] = {k: [] for k in subjects}
    for key, (_, argv, until_exit) in subjects.items():
        if tools or key in na:
            continue
        sock = work / f"sock-{key}"
        sock.mkdir()
        env = _plugin_env(ctx, sock)
        for _ in range(ROUNDS):
            try:
                samples[key].append([_count(argv, env, work, until_exit=until_exit)])
            except (RuntimeError, subprocess.SubprocessError) as exc:
                na[key] = str(exc)[:160]
                break
    rows = []
    for key, (label, _, _) in subjects.items():
        base = None if key == "import-grpc-exit" else "start.instr.import-grpc-exit"
        row = Row(SECTION, f"start.instr.{key}", label, "M instr", samples[key], base)
        if tools:
            row.na = f"{' and '.join(tools)} not found (apt-get install valgrind)"
        elif key in na:
            row.na = na[key]
        rows.append(row)
    return rows
