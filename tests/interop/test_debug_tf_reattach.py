"""serve(debug=True, provider_address=...): the TF_REATTACH_PROVIDERS line, pasted into a shell
as printed, lets a Terraform-style host attach, in Python and in Go (Terraform's parser)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLES_PY

from goplugin import ReattachConfig
from goplugin._protocol.reattach import tf_reattach_providers

pytestmark = pytest.mark.interop

ADDRESS = "registry.terraform.io/goplugin/kv"
# What terraform-plugin-go v0.31.0's debug mode prints before the line (tf5server/server.go).
TF_HEADER = (
    "Provider started. To attach Terraform CLI, set the TF_REATTACH_PROVIDERS environment "
    "variable with the following:"
)


@pytest.fixture
def debug_plugin(plugin_pythonpath: None, workdir: Path) -> Iterator[tuple[int, list[str]]]:
    """examples-py/kv_plugin.py --debug, run by hand (no cookie); its first 7 stdout lines."""
    env = {k: v for k, v in os.environ.items() if k != "BASIC_PLUGIN"}
    proc = subprocess.Popen(
        [sys.executable, str(EXAMPLES_PY / "kv_plugin.py"), "--debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    try:
        yield proc.pid, [proc.stdout.readline() for _ in range(7)]
        assert proc.poll() is None  # hosts came and went; the plugin still serves
    finally:
        proc.send_signal(signal.SIGINT)  # the developer's Ctrl-C
        assert proc.wait(10) == 0


def test_debug_mode_prints_the_line_as_terraform_plugin_go_does(
    debug_plugin: tuple[int, list[str]],
) -> None:
    pid, lines = debug_plugin
    assert "debug mode" in lines[0]
    go_plugin_json = ReattachConfig.from_json(lines[2])
    assert lines[3:5] == [TF_HEADER + "\n", "\n"]
    assert lines[6] == "\n"
    line = lines[5]
    assert line.startswith("\tTF_REATTACH_PROVIDERS='") and line.endswith("'\n")
    value = line.strip()[len("TF_REATTACH_PROVIDERS='") : -1]
    entries = json.loads(value)
    # Terraform's reattach parser reads exactly these fields (internal/getproviders/reattach).
    assert list(entries) == [ADDRESS]
    entry = entries[ADDRESS]
    assert list(entry) == ["Protocol", "ProtocolVersion", "Pid", "Test", "Addr"]
    assert list(entry["Addr"]) == ["Network", "String"]
    assert entry["Protocol"] == "grpc" and entry["ProtocolVersion"] == 1
    assert entry["Pid"] == pid and entry["Test"] is True
    assert entry["Addr"]["Network"] == "unix" and os.path.exists(entry["Addr"]["String"])
    assert ReattachConfig.from_tf_reattach_providers(value)[ADDRESS] == go_plugin_json
    assert value == tf_reattach_providers({ADDRESS: go_plugin_json})  # Go's byte layout


def shell_with_printed_line(line: str, command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``command`` from a shell into which the printed line was pasted, as in the README."""
    script = f'export {line.strip()}\nexec "$@"'
    return subprocess.run(
        ["sh", "-c", script, "sh", *command], capture_output=True, text=True, timeout=60
    )


def test_a_python_host_attaches_with_the_printed_line(
    debug_plugin: tuple[int, list[str]], workdir: Path
) -> None:
    _, lines = debug_plugin
    host = [sys.executable, str(EXAMPLES_PY / "kv_host.py"), "(not launched)"]
    for value in ("first", "second"):  # hosts come and go; the plugin stays
        put = shell_with_printed_line(lines[5], [*host, "put", "tf", value])
        assert put.returncode == 0, put.stderr
        got = shell_with_printed_line(lines[5], [*host, "get", "tf"])
        assert (got.returncode, got.stdout) == (0, f"{value}\n"), got.stderr


def test_terraform_s_parser_and_go_plugin_attach_with_the_printed_line(
    debug_plugin: tuple[int, list[str]], workdir: Path
) -> None:
    from gobuild import go_program

    _, lines = debug_plugin
    tfreattach = str(go_program("./testprogs/tfreattach"))
    result = shell_with_printed_line(lines[5], [tfreattach, ADDRESS, "go", "from Go"])
    assert (result.returncode, result.stdout) == (0, "value=from Go\n"), result.stderr
    # The short form of the address is the same provider to Terraform.
    result = shell_with_printed_line(lines[5], [tfreattach, "goplugin/kv", "go", "again"])
    assert (result.returncode, result.stdout) == (0, "value=again\n"), result.stderr
