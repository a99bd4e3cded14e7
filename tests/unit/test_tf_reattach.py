"""TF_REATTACH_PROVIDERS as Terraform reads it: Go's JSON layout, shell quoting, addresses."""

from __future__ import annotations

import json
import subprocess

import pytest

from goplugin import HandshakeConfig, Protocol, ReattachConfig
from goplugin._plugin.config import make_serve_config
from goplugin._protocol.reattach import (
    check_provider_address,
    tf_reattach_line,
    tf_reattach_providers,
)

CONFIG = ReattachConfig(Protocol.GRPC, 5, "unix", "/tmp/plugin123", 4242, test=True)


def test_the_value_is_go_s_compact_json_in_terraform_s_field_order() -> None:
    value = tf_reattach_providers({"registry.terraform.io/example/foo": CONFIG})
    assert value == (
        '{"registry.terraform.io/example/foo":{"Protocol":"grpc","ProtocolVersion":5,'
        '"Pid":4242,"Test":true,"Addr":{"Network":"unix","String":"/tmp/plugin123"}}}'
    )
    assert ReattachConfig.from_tf_reattach_providers(value) == {
        "registry.terraform.io/example/foo": CONFIG
    }


def test_strings_are_escaped_as_go_escapes_them() -> None:
    odd = ReattachConfig(Protocol.GRPC, 5, "unix", "/tmp/a<b>&c\u2028é", 1)
    value = tf_reattach_providers({"x/y": odd})
    assert "/tmp/a\\u003cb\\u003e\\u0026c\\u2028é" in value
    assert json.loads(value)["x/y"]["Addr"]["String"] == odd.address


@pytest.mark.parametrize("path", ["/tmp/plain", "/tmp/it's here", "/tmp/'", "/tmp/$HOME `x` \\"])
def test_the_line_sets_exactly_the_value_in_a_posix_shell(path: str) -> None:
    config = ReattachConfig(Protocol.GRPC, 5, "unix", path, 1)
    line = tf_reattach_line("example/foo", config)
    assert line.startswith("TF_REATTACH_PROVIDERS='") and line.endswith("'")
    shell = subprocess.run(
        ["sh", "-c", f'export {line}\nprintf %s "$TF_REATTACH_PROVIDERS"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == tf_reattach_providers({"example/foo": config})
    assert ReattachConfig.from_tf_reattach_providers(shell.stdout)["example/foo"] == config


@pytest.mark.parametrize(
    "address", ["registry.terraform.io/hashicorp/time", "hashicorp/time", "time", "h:8080/n/t"]
)
def test_provider_address_shapes(address: str) -> None:
    assert check_provider_address(address) == address


@pytest.mark.parametrize("address", ["", "a/b/c/d", "a//b", "/a", "a b/c", "a/'b", 'a/"b'])
def test_not_provider_addresses(address: str) -> None:
    with pytest.raises(ValueError, match="not a provider address"):
        check_provider_address(address)


def test_serve_refuses_a_bad_provider_address_before_serving() -> None:
    with pytest.raises(ValueError, match="not a provider address"):
        make_serve_config(
            handshake=HandshakeConfig(1, "K", "V"),
            plugins={},
            versioned_plugins=None,
            grpc_options=[],
            force_tcp=False,
            provider_address="not an address",
        )


@pytest.mark.parametrize("value", ["", "[]", "{", '{"a": {"Addr": 3}}'])
def test_malformed_tf_reattach_providers(value: str) -> None:
    with pytest.raises(ValueError):
        ReattachConfig.from_tf_reattach_providers(value)
