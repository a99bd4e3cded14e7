"""A Python host SIGKILLed with plugins running: how long until each plugin is gone.

A host process (Python, goplugin.PluginClient) starts the Go fault plugin (gRPC and net/rpc)
and the Python one (served by ``serve`` and by ``aio.serve``), prints their pids, and waits.
The soak SIGKILLs it and times each plugin's exit (a zombie counts as gone: it has exited).
What the plugins leave in the host's TMPDIR is counted per round: a Go plugin dies of the
parent-death signal without removing its socket (go-plugin's own limit), a Python plugin
cleans up.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

from ..core import Context, PhaseResult, Row, accounted, ms, percentile
from ..plugins import HANDSHAKE, fault_command, python_plugin_path

#: The issue's target, and how long the soak waits before it gives up on a plugin.
TARGET = 2.0
GIVE_UP = 10.0

HOST = textwrap.dedent(
    """
    import json, sys, time
    import goplugin
    handshake = goplugin.HandshakeConfig(*json.loads(sys.argv[2]))
    pids = {}
    for name, (cmd, env) in json.loads(sys.argv[1]).items():
        client = goplugin.PluginClient(cmd, handshake=handshake, env=env)
        client.start()
        client.ping()
        pids[name] = client.pid
    print(json.dumps(pids), flush=True)
    time.sleep(600)
    """
)


def plugins() -> dict[str, tuple[list[str], dict[str, str]]]:
    go, python = fault_command("go"), fault_command("python")
    return {
        "go grpc": (go, {}),
        "go netrpc": (go, {"GOPLUGIN_FAULT": "serve-netrpc"}),
        "python sync": (python, {}),
        "python aio": (python, {"GOPLUGIN_FAULT_FLAVOUR": "aio"}),
    }


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def run(ctx: Context) -> PhaseResult:
    result = PhaseResult("host_death", "Plugin exit after its Python host's SIGKILL")
    exits: dict[str, list[float]] = {name: [] for name in plugins()}
    never: dict[str, int] = dict.fromkeys(plugins(), 0)
    left: list[int] = []
    with accounted(result, ctx):
        for _ in range(ctx.scale.death_rounds):
            times, leftovers = _round()
            left.append(leftovers)
            for name, took in times.items():
                if took is None:
                    never[name] += 1
                else:
                    exits[name].append(took)
        for name, samples in exits.items():
            rounds = ctx.scale.death_rounds
            figures = (
                f"{len(samples)}/{rounds} exited; p50 {ms(percentile(samples, 50))}, "
                f"max {ms(max(samples, default=float('nan')))}"
            )
            if never[name]:
                figures += f"; {never[name]} still running {GIVE_UP:g} s after the kill"
            passed = not never[name] and max(samples, default=0.0) <= TARGET
            result.rows.append(Row(name, figures, passed=passed))
            ctx.log(f"  death   {name:22} {figures}")
    result.notes.append(
        f"entries left in the host's TMPDIR per round: {left} (a Go plugin's socket directory "
        "when it dies of the parent-death signal; Python plugins remove theirs)"
    )
    bad = [r.case for r in result.rows if not r.passed]
    worst = max((max(v) for v in exits.values() if v), default=float("nan"))
    result.check(
        f"Go and Python plugins exit <= {TARGET:g} s after their Python host is SIGKILLed",
        not bad,
        f"slowest {ms(worst)}" + (f"; missed: {', '.join(bad)}" if bad else ""),
    )
    return result


def _round() -> tuple[dict[str, float | None], int]:
    """Exit time per plugin (None: still running at GIVE_UP), and TMPDIR entries left."""
    host_tmp = Path(tempfile.mkdtemp(prefix="gpd", dir=os.environ.get("TMPDIR")))
    env = {**os.environ, "TMPDIR": str(host_tmp), "PYTHONPATH": python_plugin_path()}
    handshake = [
        HANDSHAKE.protocol_version,
        HANDSHAKE.magic_cookie_key,
        HANDSHAKE.magic_cookie_value,
    ]
    host = subprocess.Popen(
        [sys.executable, "-c", HOST, json.dumps(plugins()), json.dumps(handshake)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    pids: dict[str, int] = {}
    times: dict[str, float | None] = {}
    try:
        assert host.stdout is not None
        line = host.stdout.readline()
        if not line:
            raise RuntimeError("the host did not start its plugins")
        pids = json.loads(line)
        host.send_signal(signal.SIGKILL)
        host.wait(10)
        killed_at = time.monotonic()
        waiting = dict(pids)
        while waiting and time.monotonic() < killed_at + GIVE_UP:
            for name, pid in list(waiting.items()):
                if gone(pid):
                    times[name] = time.monotonic() - killed_at
                    del waiting[name]
            time.sleep(0.005)
        for name in waiting:
            times[name] = None
    finally:
        host.kill()
        host.wait()
        if host.stdout is not None:
            host.stdout.close()
        for pid in pids.values():
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)  # a Python plugin's own cleanup, if it is still at it
        leftovers = sum(1 for _ in host_tmp.rglob("*"))
        shutil.rmtree(host_tmp, ignore_errors=True)
    return times, leftovers
