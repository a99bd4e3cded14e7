"""8. AutoMTLS: what TLS costs each pairing, against the same pairing in plaintext.

grpcio cannot do TLS with go-plugin's P-521 certificates, so with a Go peer goplugin puts an
OpenSSL relay in front of a plaintext grpcio (on a private unix socket); between two Python
peers grpcio's own TLS is used (P-256). Go hosts and plugins here run go-plugin's AutoMTLS.
Each TLS row's ratio is to its own plaintext row, measured in the same rounds. Below the
pairings, the Go host with every other Python plugin server of bench/_subjects.py that can do
AutoMTLS with it (the others say why not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._context import Context, interleave
from .._report import Row
from .._subjects import SERVERS, peer_host_drivers, server_drivers

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
    "go-py": ("Go host → Python plugin (grpcio)", "go", "py", "OpenSSL relay"),
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


def _server_rows(
    ctx: Context, contract: str, command: str, rounds: int, extract: Any, section: str, prefix: str
) -> list[Row]:
    """Go host → each other server, plaintext and AutoMTLS, in the same rounds."""
    # goplugin is go-py above; a server without AutoMTLS gets its one n/a row, unmeasured.
    servers = [sv for sv in SERVERS if sv.key != "goplugin"]
    measured_servers = [sv for sv in servers if not sv.no_tls]
    plain, na = server_drivers(ctx, contract, f"tls-{contract}-plain", servers=measured_servers)
    tls, na_tls = server_drivers(ctx, contract, f"tls-{contract}-tls", tls=True, servers=servers)
    tls = {k: m for k, m in tls.items() if k in plain}
    makers = {f"{k}.plain": m for k, m in plain.items()}
    makers.update({f"{k}.tls": m for k, m in tls.items()})
    failed: dict[str, str] = {}
    with ctx.started(makers, failed=failed) as drivers:
        got = interleave(drivers, command, rounds, extract) if drivers else {}
    unit, rate = ("µs", False) if prefix == "tls.unary" else ("MiB/s", True)
    rows = []
    for sv in servers:
        base = f"{prefix}.srv-{sv.key}.plain"
        label = f"Go host → {sv.label}"
        if sv.no_tls:
            key = f"{prefix}.srv-{sv.key}.tls"
            rows.append(Row(section, key, f"{label}, AutoMTLS", unit, na=sv.no_tls))
            continue
        for kind, how, reasons in (("plain", "plaintext", na), ("tls", "AutoMTLS", na_tls)):
            how = f"AutoMTLS ({sv.tls})" if kind == "tls" and sv.tls else how
            measured = got.get(f"{sv.key}.{kind}", [])
            row = Row(section, f"{prefix}.srv-{sv.key}.{kind}", f"{label}, {how}", unit, measured,
                      None if kind == "plain" else base, rate)  # fmt: skip
            reason = reasons.get(sv.key) or failed.get(f"{sv.key}.{kind}")
            if reason:
                row.na = reason
            rows.append(row)
    return rows


def _peer_host_rows(
    ctx: Context, contract: str, command: str, rounds: int, extract: Any, section: str, prefix: str
) -> list[Row]:
    """Each peer's host → the Go plugin, plaintext and AutoMTLS, in the same rounds."""
    go = ctx.plugins["go-kv" if contract == "kv" else "go-streaming"]
    plain, na, labels = peer_host_drivers(ctx, contract, go, f"tls-{contract}-plain")
    tls, na_tls, _ = peer_host_drivers(ctx, contract, go, f"tls-{contract}-tls", tls=True)
    makers = {f"{k}.plain": m for k, m in plain.items()}
    makers.update({f"{k}.tls": m for k, m in tls.items()})
    failed: dict[str, str] = {}
    with ctx.started(makers, failed=failed) as drivers:
        got = interleave(drivers, command, rounds, extract) if drivers else {}
    unit, rate = ("µs", False) if prefix == "tls.unary" else ("MiB/s", True)
    rows = []
    for key, label in labels.items():
        for kind, how, reasons in (("plain", "plaintext", na), ("tls", "AutoMTLS", na_tls)):
            measured = got.get(f"{key}.{kind}", [])
            base = None if kind == "plain" else f"{prefix}.{key}.plain"
            row = Row(section, f"{prefix}.{key}.{kind}", f"{label}, {how}", unit, measured,
                      base, rate)  # fmt: skip
            reason = reasons.get(key) or failed.get(f"{key}.{kind}")
            if reason:
                row.na = reason
            rows.append(row)
    return rows


def run(ctx: Context) -> list[Row]:
    s = ctx.settings
    with ctx.started(_drivers(ctx, "kv")) as drivers:
        unary = interleave(drivers, f"unary {s.unary_calls}", s.unary_rounds // 2, _lat_us)
    with ctx.started(_drivers(ctx, "streaming")) as drivers:
        mib = interleave(drivers, f"echo {MIB} {s.echo_calls}", s.echo_rounds, _mib_per_s)
    unary_cmd, mib_cmd = f"unary {s.unary_calls}", f"echo {MIB} {s.echo_calls}"
    return [
        *_rows(SECTION_UNARY, "tls.unary", "µs", unary, False),
        *_server_rows(
            ctx, "kv", unary_cmd, s.unary_rounds // 2, _lat_us, SECTION_UNARY, "tls.unary"
        ),
        *_peer_host_rows(
            ctx, "kv", unary_cmd, s.unary_rounds // 2, _lat_us, SECTION_UNARY, "tls.unary"
        ),
        *_rows(SECTION_MIB, "tls.mib", "MiB/s", mib, True),
        *_server_rows(ctx, "streaming", mib_cmd, s.echo_rounds, _mib_per_s, SECTION_MIB, "tls.mib"),
    ]
