"""Reattaching to a plugin in debug ("test") mode, the way Terraform does it, with a real
production plugin: hashicorp's terraform-provider-time v0.14.1, built unmodified.

Started with -debug, a terraform-plugin-go provider serves go-plugin in test mode and prints
the TF_REATTACH_PROVIDERS line instead of a handshake. docs/protocol.md links this test for the
shape of that JSON and for what test mode changes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from gobuild import go_install

import goplugin
from goplugin import ReattachConfig
from goplugin._protocol.handshake import Protocol

pytestmark = pytest.mark.interop

TF_HANDSHAKE = goplugin.HandshakeConfig(
    5,
    "TF_PLUGIN_MAGIC_COOKIE",
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2",
)
ADDRESS = "registry.terraform.io/hashicorp/time"


@pytest.mark.timeout(600)  # the first build of the provider takes a few minutes
def test_terraform_style_reattach_to_a_provider_in_debug_mode(tmp_path: Path) -> None:
    provider = go_install("github.com/hashicorp/terraform-provider-time", "v0.14.1")
    env = {k: v for k, v in os.environ.items() if k != TF_HANDSHAKE.magic_cookie_key}
    proc = subprocess.Popen(
        [str(provider), "-debug"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,  # no cookie: test mode does not check it
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(_until_reattach(proc)))
        reader.start()
        reader.join(60)
        found = [re.search(r"TF_REATTACH_PROVIDERS='(.*)'", line) for line in lines]
        (match,) = [m for m in found if m]
        providers = json.loads(match.group(1))
        # A JSON object keyed by provider address; each value is go-plugin's ReattachConfig
        # with Addr spelled out as {Network, String}.
        assert list(providers) == [ADDRESS]
        entry = providers[ADDRESS]
        assert set(entry) == {"Protocol", "ProtocolVersion", "Pid", "Test", "Addr"}
        assert entry["Protocol"] == "grpc" and entry["ProtocolVersion"] == 5
        assert entry["Pid"] == proc.pid and entry["Test"] is True
        assert entry["Addr"]["Network"] == "unix" and os.path.exists(entry["Addr"]["String"])

        config = ReattachConfig.from_json(entry)
        assert config == ReattachConfig(
            Protocol.GRPC, 5, "unix", entry["Addr"]["String"], proc.pid, test=True
        )
        assert json.loads(config.to_json()) == entry
        for _ in range(2):  # hosts come and go; a test-mode plugin outlives them
            with goplugin.PluginClient(reattach=config, handshake=TF_HANDSHAKE) as client:
                client.ping()
            assert proc.poll() is None
        # In test mode the plugin's own process decides: here, Ctrl-C ends it.
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


def _until_reattach(proc: subprocess.Popen[str]) -> list[str]:
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "TF_REATTACH_PROVIDERS=" in line:
            break
    return lines
