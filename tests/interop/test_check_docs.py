"""docs/check.md shows real `goplugin check` output: each documented command runs again here and
prints the same, up to socket paths and timings."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES_PY
from gobuild import REPO, go_plugin_example

pytestmark = [pytest.mark.interop, pytest.mark.timeout(180)]

DOC = REPO / "docs" / "check.md"
BLOCK = re.compile(r"<!-- check output: ([\w ]+) -->\s*```\n(.*?)```", re.DOTALL)
VARIABLE = re.compile(r"^(\w+)=(\S+)$")


def normalise(text: str) -> str:
    text = re.sub(r"\|unix\|[^|']+\|", "|unix|<socket>|", text)
    return re.sub(r"\d+\.\d\d s after", "<t> s after", text)


def documented() -> dict[str, tuple[list[str], dict[str, str], str]]:
    """name -> (argv, environment, output) of each documented run."""
    runs = {}
    for name, body in BLOCK.findall(DOC.read_text()):
        lines = body.splitlines()
        command = lines[0].removeprefix("$ ")
        rest = lines[1:]
        while command.endswith("\\"):
            command = command[:-1] + rest.pop(0)
        words = shlex.split(command)
        env = {}
        while VARIABLE.match(words[0]):
            key, value = words.pop(0).split("=", 1)
            env[key] = value
        runs[name] = (words, env, "\n".join(rest) + "\n")
    return runs


def rerun(argv: list[str], env: dict[str, str], cwd: Path, tmp_path: Path) -> str:
    assert argv[:3] == ["python", "-m", "goplugin"], argv
    # "python" in the documented command lines is this interpreter.
    shim = tmp_path / "bin"
    shim.mkdir(exist_ok=True)
    if not (shim / "python").exists():
        # A script, not a symlink: a venv's python finds its venv from its own path.
        (shim / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        (shim / "python").chmod(0o755)
    pythonpath = [str(REPO / "sdk-python" / "src")]
    if "PYTHONPATH" in env:
        pythonpath.append(str(REPO / env.pop("PYTHONPATH")))
    result = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=150,
        env={
            **os.environ,
            **env,
            "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": os.pathsep.join(pythonpath),
        },
    )
    return result.stdout


def test_the_doc_has_a_good_a_broken_and_a_bad_run() -> None:
    assert set(documented()) == {"good", "broken", "not a plugin"}


@pytest.mark.parametrize("name", ["good", "broken", "not a plugin"])
def test_documented_output_is_real(name: str, tmp_path: Path) -> None:
    argv, env, output = documented()[name]
    cwd = REPO
    if name == "good":
        cwd = go_plugin_example("grpc", "plugin-go-grpc").parent
    assert EXAMPLES_PY.exists()
    assert normalise(rerun(argv, env, cwd, tmp_path)) == normalise(output)
