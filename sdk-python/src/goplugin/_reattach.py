"""ReattachConfig: connect to a plugin that is already running (go-plugin's ReattachConfig).

A host reattaches instead of launching: to a plugin another host started, or to one a
developer runs in a debugger with ``serve(debug=True)``, which prints this config as JSON in
the format Terraform's ``TF_REATTACH_PROVIDERS`` uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._handshake import Protocol

__all__ = ["ReattachConfig"]


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
