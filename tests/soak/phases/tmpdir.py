"""A plugin starts, answers and leaves nothing behind under a 90-character TMPDIR.

90 characters is the longest TMPDIR go-plugin's own Go plugins always work with (their
socket is ``$TMPDIR/plugin<up to 10 digits>``, 107 bytes at most). Every language, protocol
and host flavour; XDG_RUNTIME_DIR, where sockets go when TMPDIR leaves no room, is a short
directory of the phase's own, and both must be empty afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..core import Context, PhaseResult, Row, accounted
from ..plugins import ALL_KINDS, QUICK_KEY, AsyncKV, Kind, SyncKV, error_name, new_client

LENGTH = 90


def padded_dir(base: str, length: int) -> Path:
    path = base
    while len(path) < length:
        path = os.path.join(path, "x" * min(40, length - len(path) - 1))
    os.makedirs(path)
    return Path(path)


def run(ctx: Context, kinds: list[Kind] = ALL_KINDS) -> PhaseResult:
    result = PhaseResult("tmpdir", f"Plugin start under a {LENGTH}-character TMPDIR")
    with accounted(result, ctx):
        base = tempfile.mkdtemp(prefix="gpl", dir=ctx.tmp)
        saved = {name: os.environ.get(name) for name in ("TMPDIR", "XDG_RUNTIME_DIR")}
        saved_tempdir = tempfile.tempdir
        try:
            runtime = Path(base, "run")
            runtime.mkdir(mode=0o700)
            long_tmp = padded_dir(os.path.join(base, "t"), LENGTH)
            os.environ.update(TMPDIR=str(long_tmp), XDG_RUNTIME_DIR=str(runtime))
            tempfile.tempdir = str(long_tmp)
            for kind in kinds:
                outcome = asyncio.run(_aio(kind)) if kind.flavour == "aio" else _sync(kind)
                left = sorted(str(p) for d in (long_tmp, runtime) for p in d.iterdir())
                passed = outcome == "started, answered, exited" and not left
                figures = outcome + (f"; left behind: {left}" if left else "; nothing left")
                result.rows.append(Row(kind.label, figures, passed=passed))
                ctx.log(f"  tmpdir  {kind.label:22} {figures}")
        finally:
            tempfile.tempdir = saved_tempdir
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            shutil.rmtree(base, ignore_errors=True)
    bad = [r.case for r in result.rows if not r.passed]
    result.check(
        f"a plugin starts under a {LENGTH}-character TMPDIR",
        not bad,
        f"{len(result.rows) - len(bad)}/{len(result.rows)} kinds"
        + (f"; failed: {', '.join(bad)}" if bad else ""),
    )
    return result


def _sync(kind: Kind) -> str:
    client = new_client(kind)
    try:
        client.start()
        if SyncKV(client, kind.protocol).get(QUICK_KEY, timeout=30) != b"soak":
            return "wrong answer"
        client.kill()
        return "started, answered, exited" if client.returncode == 0 else "exit status"
    except Exception as exc:
        return f"failed: {error_name(exc)}: {str(exc).splitlines()[0][:200]}"
    finally:
        client.kill()


async def _aio(kind: Kind) -> str:
    client: Any = new_client(kind)
    try:
        await client.start()
        kv = await AsyncKV.dispense(client, kind.protocol)
        if await kv.get(QUICK_KEY, timeout=30) != b"soak":
            return "wrong answer"
        await client.kill()
        return "started, answered, exited" if client.returncode == 0 else "exit status"
    except Exception as exc:
        return f"failed: {error_name(exc)}: {str(exc).splitlines()[0][:200]}"
    finally:
        await client.kill()
