"""Generate the tfplugin5 host code this example imports, from Terraform's own contract.

The contract is ``tfprotov5/internal/tfplugin5/tfplugin5.proto`` in the Go module
github.com/hashicorp/terraform-plugin-go, which ``go mod download`` puts in Go's module cache;
nothing of it is copied into this repository. Our codegen turns it into the package ``tfgen``
(protobuf messages, typed stubs, the ``ProviderClient`` glue) under the build directory::

    python prepare.py .build/tfplugin5       # then: PYTHONPATH=.build/tfplugin5

It needs Go (for ``go mod download``) and ``goplugin[codegen]`` (grpcio-tools' protoc).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MODULE = "github.com/hashicorp/terraform-plugin-go"
VERSION = "v0.31.0"
PROTO_DIR = "tfprotov5/internal/tfplugin5"
PACKAGE = "tfgen"


def module_dir() -> Path:
    """Where Go's module cache holds terraform-plugin-go (downloaded if it is not there)."""
    result = subprocess.run(
        ["go", "mod", "download", "-json", f"{MODULE}@{VERSION}"],
        capture_output=True,
        text=True,
    )
    info = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "Dir" not in info:
        raise RuntimeError(
            f"go mod download {MODULE}@{VERSION} failed:\n{result.stdout}{result.stderr}"
        )
    return Path(info["Dir"])


def generate(out: Path) -> Path:
    """Generate ``tfgen`` into ``out`` (rewriting only what changed); returns ``out``, the
    directory to put on ``sys.path``."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "goplugin.codegen",
            str(module_dir()),
            PROTO_DIR,
            "--strip-prefix",
            "tfprotov5/internal",
            "--python-out",
            str(out / PACKAGE),
            "--prune",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"codegen of tfplugin5 failed:\n{result.stdout}{result.stderr}")
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(generate(Path(sys.argv[1]).resolve()))
