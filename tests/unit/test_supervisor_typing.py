"""Type checkers see a supervised stand-in as the client class it stands for (mypy --strict)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SNIPPET = """
from typing_extensions import assert_type

import goplugin
import goplugin.aio
from gen.kv import kv_goplugin, kv_pb2


def sync_host(sup: goplugin.Supervisor) -> None:
    kv = sup.dispense("kv", kv_goplugin.KVClient)
    assert_type(kv, kv_goplugin.KVClient)
    assert_type(kv.get(kv_pb2.GetRequest(key="k"), timeout=1), kv_pb2.GetResponse)
    kv.get("not a request")  # E: a typed client refuses a str


async def asyncio_host(sup: goplugin.aio.Supervisor) -> None:
    kv = await sup.dispense("kv", kv_goplugin.AsyncKVClient)
    assert_type(await kv.get(kv_pb2.GetRequest(key="k")), kv_pb2.GetResponse)
    untyped = await sup.dispense("kv")
    assert_type(untyped, object)  # E: without a class it is Any, not object
"""


def test_dispensed_stand_ins_carry_the_client_type(tmp_path: Path) -> None:
    (tmp_path / "snippet.py").write_text(textwrap.dedent(SNIPPET))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--python-version",
            "3.10",
            "snippet.py",
        ],
        cwd=tmp_path,
        env={
            **os.environ,
            "MYPYPATH": os.pathsep.join([str(REPO / "examples-py"), str(REPO / "sdk-python/src")]),
        },
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    lines = {int(line.split(":")[1]) for line in errors}
    expected = {
        n for n, text in enumerate(textwrap.dedent(SNIPPET).splitlines(), 1) if "# E:" in text
    }
    assert lines == expected, result.stdout + result.stderr
