"""goplugin check's report (pure): the table, JSON, row order, counts, and rows added from the
probes' threads at once."""

from __future__ import annotations

import json
import threading

from goplugin._cli.checkprobes import _grammar_problem
from goplugin._cli.checkreport import ROWS, Report, Status
from goplugin._protocol.handshake import parse_handshake


def test_table_and_json() -> None:
    report = Report(["./plugin", "--flag"])
    report.failed("stdout", "printed 'x' first")  # probes finish in any order
    report.passed("cookie", "exit status 1")
    report.skipped("ping", "not applicable: the plugin speaks gRPC")
    table = report.to_table().splitlines()
    assert table[0] == "goplugin check ./plugin --flag"
    assert table[1].startswith("  PASS  refuses to run without the magic cookie")
    assert table[2].startswith("  FAIL  nothing on stdout before the handshake")
    assert table[3].endswith("skipped: not applicable: the plugin speaks gRPC")
    assert table[-1] == "1 passed, 1 failed, 1 skipped"
    data = json.loads(report.to_json())
    assert data["ok"] is False and data["command"] == ["./plugin", "--flag"]
    assert [row["name"] for row in data["rows"]] == ["cookie", "stdout", "ping"]
    assert data["rows"][1] == {
        "name": "stdout",
        "title": "nothing on stdout before the handshake",
        "status": "fail",
        "reason": "printed 'x' first",
    }


def test_skips_are_not_failures() -> None:
    report = Report(["p"])
    report.skip_all(("health", "stdio"), "no usable handshake line")
    assert report.ok and report.counts() == {"pass": 0, "fail": 0, "skip": 2}


def test_rows_from_many_threads() -> None:
    report = Report(["p"])
    names = [name for name, _ in ROWS]
    barrier = threading.Barrier(8)

    def add(n: int) -> None:
        barrier.wait()
        for i in range(500):
            report.add(names[(n + i) % len(names)], Status.PASS, str(i))
            report.ordered()

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(report.rows) == 8 * 500 and report.counts()["pass"] == 4000


def test_grammar_beyond_parsing() -> None:
    """Lines a Go host parses but trips over later, and lines that are fine."""
    fine = "1|1|unix|/tmp/p|grpc|"
    assert _grammar_problem(fine, parse_handshake(fine)) is None
    five = "1|1|tcp|127.0.0.1:1234|grpc"  # go-plugin's old Python example: legal
    assert _grammar_problem(five, parse_handshake(five)) is None
    seventh = "1|1|unix|/tmp/p|grpc||true"
    assert "7th field" in (_grammar_problem(seventh, parse_handshake(seventh)) or "")
    short_cert = "1|1|unix|/tmp/p|grpc|abc"
    assert "ignore" in (_grammar_problem(short_cert, parse_handshake(short_cert)) or "")
    eight = "1|1|unix|/tmp/p|grpc||true|x"
    assert "8 fields" in (_grammar_problem(eight, parse_handshake(eight)) or "")
