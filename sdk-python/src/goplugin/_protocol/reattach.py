"""ReattachConfig: connect to a plugin that is already running (go-plugin's ReattachConfig).

A host reattaches instead of launching: to a plugin another host started, or to one a
developer runs in a debugger with ``serve(debug=True)``, which prints this config as JSON in
the format Terraform's ``TF_REATTACH_PROVIDERS`` uses, and, given a provider address, the
``TF_REATTACH_PROVIDERS='...'`` line itself, as terraform-plugin-go's debug mode prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .handshake import Protocol

__all__ = [
    "TF_REATTACH_PROVIDERS",
    "ReattachConfig",
    "check_provider_address",
    "tf_reattach_line",
    "tf_reattach_providers",
]

#: The environment variable through which Terraform (and Terraform-style hosts) find providers
#: that run already, e.g. in a debugger.
TF_REATTACH_PROVIDERS = "TF_REATTACH_PROVIDERS"

# [hostname/]namespace/type, or a bare type: Terraform's provider source address shapes.
_PROVIDER_ADDRESS = r"[^\s/'\"]+(/[^\s/'\"]+){0,2}"
# What Go's encoding/json escapes in strings and Python's json module does not.
_GO_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@dataclass(frozen=True)
class ReattachConfig:
    """Where a running plugin listens and what it speaks.

    ``test`` has go-plugin's meaning: the plugin runs in test/debug mode and terminates on its
    own, so a host never stops it (not even with ``kill(stop_reattached=True)``).
    """

    protocol: Protocol
    protocol_version: int
    network: str
    address: str
    pid: int = 0
    test: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "protocol", Protocol(self.protocol))
        if self.network not in ("unix", "tcp"):
            raise ValueError(f"unknown address type: {self.network}")

    def to_tf_entry(self) -> dict[str, Any]:
        """This config as one value of TF_REATTACH_PROVIDERS, fields in Go's order."""
        return {
            "Protocol": self.protocol.value,
            "ProtocolVersion": self.protocol_version,
            "Pid": self.pid,
            "Test": self.test,
            "Addr": {"Network": self.network, "String": self.address},
        }

    @classmethod
    def from_tf_reattach_providers(cls, value: str) -> dict[str, ReattachConfig]:
        """Parse TF_REATTACH_PROVIDERS (provider address -> reattach config), as Terraform
        does: ``ReattachConfig.from_tf_reattach_providers(os.environ["TF_REATTACH_PROVIDERS"])``.
        """
        import json

        try:
            entries = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"invalid format for {TF_REATTACH_PROVIDERS}: {exc}") from None
        if not isinstance(entries, dict):
            raise ValueError(f"invalid format for {TF_REATTACH_PROVIDERS}: not a JSON object")
        return {address: cls.from_json(entry) for address, entry in entries.items()}

    def to_json(self) -> str:
        """The JSON Go tooling reads (Terraform's TF_REATTACH_PROVIDERS entry format)."""
        import json

        return json.dumps(
            {
                "Protocol": self.protocol.value,
                "ProtocolVersion": self.protocol_version,
                "Pid": self.pid,
                "Test": self.test,
                "Addr": {"Network": self.network, "String": self.address},
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes | dict[str, Any]) -> ReattachConfig:
        import json

        data = json.loads(text) if isinstance(text, (str, bytes)) else text
        try:
            addr = data["Addr"]
            return cls(
                protocol=Protocol(data.get("Protocol") or Protocol.NETRPC.value),
                protocol_version=int(data.get("ProtocolVersion", 0)),
                network=addr["Network"],
                address=addr["String"],
                pid=int(data.get("Pid", 0)),
                test=bool(data.get("Test", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a reattach config: {exc}") from None


def check_provider_address(address: str) -> str:
    """``address`` if it has the shape of a Terraform provider source address, else ValueError."""
    import re

    if not isinstance(address, str) or not re.fullmatch(_PROVIDER_ADDRESS, address):
        raise ValueError(
            f"provider_address {address!r} is not a provider address like "
            "registry.terraform.io/NAMESPACE/TYPE"
        )
    return address


def tf_reattach_providers(configs: Mapping[str, ReattachConfig]) -> str:
    """The value of TF_REATTACH_PROVIDERS for ``configs``, byte for byte as Go's encoding/json
    writes it (terraform-plugin-go's debug mode): compact, fields in order, HTML-escaped."""
    import json

    text = json.dumps(
        {address: config.to_tf_entry() for address, config in configs.items()},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    for char, escape in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escape)
    return text


def tf_reattach_line(address: str, config: ReattachConfig) -> str:
    """``TF_REATTACH_PROVIDERS='...'``, quoted for POSIX shells as terraform-plugin-go quotes it:
    pasted into a shell (after ``export``, or before a command), it sets exactly the value."""
    value = tf_reattach_providers({check_provider_address(address): config})
    quoted = value.replace("'", "'\"'\"'")
    return f"{TF_REATTACH_PROVIDERS}='{quoted}'"
