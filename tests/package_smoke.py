"""Smoke test of the built wheel, run by `nox -s package` with a clean venv's Python.

Run from an empty directory outside the checkout, so that only the installed wheel can be
imported: it generates the KV glue with the wheel's own codegen, then runs a Python host against
go-plugin's Go plugin and go-plugin's Go host against a Python plugin, both from examples-py.

    python tests/package_smoke.py REPO GO_EXAMPLES
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path


def run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    print("+", " ".join(map(str, args)), flush=True)
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout


def main(repo: Path, go_examples: Path) -> None:
    import goplugin

    installed = Path(goplugin.__file__).resolve()
    if repo.resolve() in installed.parents or Path.cwd().resolve() in installed.parents:
        raise SystemExit(f"goplugin was imported from {installed}, not from the installed wheel")
    version = importlib.metadata.version("goplugin")
    assert goplugin.__version__ == version, (goplugin.__version__, version)
    assert run(sys.executable, "-m", "goplugin", "--version") == f"goplugin {version}\n"

    # The user's side: generate the glue with the installed codegen (goplugin[codegen]).
    run(sys.executable, "-m", "goplugin.codegen", repo / "proto", "kv", "--python-out", "gen")
    for example in ("kv_host.py", "kv_plugin.py"):
        shutil.copy(repo / "examples-py" / example, example)

    # Python host, Go plugin (go-plugin's examples/grpc plugin-go-grpc, unmodified).
    go_plugin = go_examples / "grpc" / "plugin-go-grpc"
    run(sys.executable, "kv_host.py", go_plugin, "put", "hello", "from Python")
    got = run(sys.executable, "kv_host.py", go_plugin, "get", "hello")
    assert got == "from Python\n\nWritten from plugin-go-grpc\n", got

    # Go host (go-plugin's examples/grpc host, unmodified), Python plugin.
    go_host = go_examples / "grpc" / "grpc"
    plugin_env = {"KV_PROTO": "grpc", "KV_PLUGIN": f"{sys.executable} kv_plugin.py"}
    run(go_host, "put", "answer", "42", env=plugin_env)
    got = run(go_host, "get", "answer", env=plugin_env)
    assert got == "42\n", got
    print(f"package smoke test passed: goplugin {version} from {installed.parent}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
