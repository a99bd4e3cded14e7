"""Committed generated code is exactly what `nox -s codegen` would write now.

Regenerates every [[tool.goplugin.codegen]] job of pyproject.toml into a temporary directory
(that is what --check does) and compares, so a .proto edited without regenerating, a
hand-edited generated file, or a stale file left behind fails here. Needs Go: the Go jobs
build protoc-gen-go(-grpc) from examples-go's pinned tool versions; and betterproto2-compiler
(noxfile's pins) for examples-py/gen_bp2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_code_is_fresh() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "goplugin.codegen", "--config", "pyproject.toml", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        "generated code is out of date; run `nox -s codegen`\n" + result.stdout + result.stderr
    )


def test_sync_flavour_is_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "sdk-python" / "scripts" / "unasync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_generated_headers_name_the_public_command() -> None:
    # Users regenerate their own code with the package's command; `nox -s codegen` exists only
    # in this repository. The committed files are the generator's output (checked above).
    glue = [
        *(REPO / "examples-py" / "gen").rglob("*_goplugin.py"),
        *(REPO / "examples-py" / "gen_bp2").rglob("*_goplugin_bp2.py"),
    ]
    assert len(glue) >= 6
    for path in glue:
        header = path.read_text().split('"""', 1)[0]
        assert "nox" not in header, path
        assert "`python -m goplugin.codegen" in header, path
