"""8. AutoMTLS: what TLS costs each pairing, against the same pairing in plaintext.

grpcio cannot do TLS with go-plugin's P-521 certificates, so with a Go peer goplugin puts an
OpenSSL relay in front of a plaintext grpcio (on a private unix socket); between two Python
peers grpcio's own TLS is used (P-256). Go hosts and plugins here run go-plugin's AutoMTLS.
Each TLS row's ratio is to its own plaintext row, measured in the same rounds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._context import Context, interleave
from .._report import Row

if TYPE_CHECKING:
    from .._driver import Driver

SECTION_UNARY = "8a. AutoMTLS: unary KV.Get (ratio to the same pairing in plaintext)"
SECTION_MIB = "8b. AutoMTLS: Streamer.Echo of 1 MiB (ratio to the same pairing in plaintext)"
MIB = 1 << 20

# key: (label, host kind "go"/"sync", plugin key, how TLS is done); each is measured with and
# without TLS.
PAIRINGS = {
    "go-go": ("Go host → Go plugin", "go", "go", "Go's crypto/tls"),
    "py-go": ("Python host → Go plugin", "sync", "go", "OpenSSL relay"),
    "go-py": ("Go host → Python plugin", "go", "py", "OpenSSL relay"),
    "py-py": ("Python host → Python plugin", "sync", "py", "grpcio's TLS"),
}


def _lat_us(reply: dict[str, Any]) -> list[float]:
    return [ns / 1000 for ns in reply["lat_ns"]]


def _mib_per_s(reply: dict[str, Any]) -> list[float]:
    return [1 / (ns / 1e9) for ns in reply["lat_ns"]]


def _drivers(ctx: Context, contract: str) -> dict[str, Callable[[], Driver]]:
    plugins = {
        "go": ctx.plugins["go-kv" if contract == "kv" else "go-streaming"],
        "py": ctx.plugins["py-kv" if contract == "kv" else "py-streaming"],
    }
    makers: dict[str, Callable[[], Driver]] = {}
    for key, (_, host, plugin, _how) in PAIRINGS.items():
        for tls in (False, True):
            name = f"tls-{contract}-{key}-{'tls' if tls else 'plain'}"

            def make(
                name: str = name, host: str = host, plugin: str = plugin, tls: bool = tls
            ) -> Driver:
                if host == "go":
                    return ctx.go_host(name, contract, plugins[plugin], tls=tls)
                return ctx.py_host(name, "sync", contract, plugins[plugin], tls=tls)

            makers[f"{key}.{'tls' if tls else 'plain'}"] = make
    return makers


def _rows(section: str, prefix: str, unit: str, rounds: dict[str, list[list[float]]],
          rate: bool) -> list[Row]:  # fmt: skip
    rows = []
    for key, (label, _, _, how) in PAIRINGS.items():
        plain = Row(section, f"{prefix}.{key}.plain", f"{label}, plaintext", unit,
                    rounds[f"{key}.plain"], None, rate)  # fmt: skip
        tls = Row(section, f"{prefix}.{key}.tls", f"{label}, AutoMTLS ({how})", unit,
                  rounds[f"{key}.tls"], plain.key, rate)  # fmt: skip
        rows += [plain, tls]
    return rows


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    with ctx.started(_drivers(ctx, "kv")) as drivers:
        unary = interleave(drivers, f"unary {s.unary_calls}", s.unary_rounds // 2, _lat_us)
    with ctx.started(_drivers(ctx, "streaming")) as drivers:
        mib = interleave(drivers, f"echo {MIB} {s.echo_calls}", s.echo_rounds, _mib_per_s)
    return [
        *_rows(SECTION_UNARY, "tls.unary", "µs", unary, False),
        *_rows(SECTION_MIB, "tls.mib", "MiB/s", mib, True),
    ]
