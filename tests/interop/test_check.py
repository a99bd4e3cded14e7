"""`python -m goplugin check`: every plugin we ship and go-plugin's own example plugins pass;
deliberately broken plugins (the fault plugins) fail exactly the row that names their fault;
bad input is one row, a non-zero exit within the timeout, and no process left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import EXAMPLES_PY, PLUGINS
from gobuild import REPO, go_plugin_example, go_program

from goplugin import HandshakeConfig
from goplugin._cli.check import check
from goplugin._cli.checkreport import ROWS, Report, Status

pytestmark = [pytest.mark.interop, pytest.mark.timeout(240)]

EXAMPLES = HandshakeConfig(1, "BASIC_PLUGIN", "hello")
STREAMING = HandshakeConfig(1, "STREAMING_PLUGIN", "events")
GRPC_ROWS = {"health", "stdio", "reflection", "shutdown"}
NETRPC_ROWS = {"ping", "dispense", "quit"}
ALL_ROWS = {name for name, _ in ROWS if name != "launch"}

# Every plugin of examples-py and examples-go, with its cookie (and the net/rpc name to
# dispense); test_the_lists_cover_every_example_plugin keeps these complete.
PY_EXAMPLES = {
    "counter_plugin.py": (EXAMPLES, ()),
    "greeter_plugin.py": (EXAMPLES, ("greeter",)),
    "kv_plugin.py": (EXAMPLES, ()),
    "kv_plugin_bp2.py": (EXAMPLES, ()),
    "streaming_plugin.py": (STREAMING, ()),
    "streaming_plugin_aio.py": (STREAMING, ()),
    "streaming_plugin_bp2.py": (STREAMING, ()),
}
GO_EXAMPLES = {
    "./cmd/counter-plugin": EXAMPLES,
    "./cmd/kv-plugin": EXAMPLES,
    "./cmd/streaming-plugin": STREAMING,
    "./testprogs/faultplugin": EXAMPLES,  # without a fault, a well-behaved Go plugin
}
GO_PLUGIN_EXAMPLES = {
    ("grpc", "plugin-go-grpc"): (),
    ("grpc", "plugin-go-netrpc"): ("kv",),
    ("bidirectional", "plugin-go-grpc"): (),
    ("basic", "plugin"): ("greeter",),
    ("streaming", "plugin"): (),
}


@pytest.fixture
def python_path(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> None:
    """Python plugins import goplugin and the generated code; plugins write in their cwd."""
    paths = [str(EXAMPLES_PY), str(REPO / "sdk-python" / "src")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    monkeypatch.delenv("GOPLUGIN_FAULT", raising=False)


def assert_all_pass(report: Report, protocol: str) -> None:
    rows = {row.name: row for row in report.rows}
    assert set(rows) == ALL_ROWS, report.to_table()
    not_applicable = NETRPC_ROWS if protocol == "grpc" else GRPC_ROWS
    for name, row in rows.items():
        expected = Status.SKIP if name in not_applicable else Status.PASS
        assert row.status is expected, report.to_table()
    assert report.ok and report.protocol == protocol


def test_the_lists_cover_every_example_plugin() -> None:
    assert {p.name for p in EXAMPLES_PY.glob("*plugin*.py")} == set(PY_EXAMPLES)
    commands = {f"./cmd/{p.name}" for p in (REPO / "examples-go" / "cmd").glob("*-plugin")}
    assert commands == {k for k in GO_EXAMPLES if k.startswith("./cmd/")}


@pytest.mark.parametrize("script", sorted(PY_EXAMPLES))
def test_python_examples_pass(script: str, python_path: None) -> None:
    handshake, names = PY_EXAMPLES[script]
    report = check([sys.executable, str(EXAMPLES_PY / script)], handshake, [1], dispense=names)
    assert_all_pass(report, "netrpc" if names else "grpc")


@pytest.mark.parametrize("package", sorted(GO_EXAMPLES))
def test_go_examples_pass(package: str, workdir: Path) -> None:
    report = check([str(go_program(package))], GO_EXAMPLES[package], [1])
    assert_all_pass(report, "grpc")


@pytest.mark.parametrize(("group", "binary"), sorted(GO_PLUGIN_EXAMPLES))
def test_go_plugins_own_examples_pass(group: str, binary: str, workdir: Path) -> None:
    names = GO_PLUGIN_EXAMPLES[(group, binary)]
    report = check([str(go_plugin_example(group, binary))], EXAMPLES, [1], dispense=names)
    assert_all_pass(report, "netrpc" if names else "grpc")


# fault -> {row that must fail: words its reason must have}; every other row passes, or is
# skipped when it cannot run (the reason then says why).
GO_FAULTS = {
    "stray-stdout": {"stdout": "Unrecognized remote plugin message"},
    "serve-without-cookie": {"cookie": "served without the magic cookie"},
    "exit-zero-without-cookie": {"cookie": "exit status 0, where go-plugin exits with 1"},
    "silent-without-cookie": {"cookie": "(its stderr is empty)"},
    "bad-handshake-line": {"handshake": "'one' is not an integer"},
    "unasked-multiplexing": {"handshake": "did not set PLUGIN_MULTIPLEX_GRPC"},
    "exit-on-unknown-version": {"negotiation": "announce their lowest version"},
    "claim-offered-version": {"negotiation": "it announced 1001"},
    "no-automtls": {"automtls": "no certificate in the handshake line"},
    "health-not-serving": {"health": "NOT_SERVING"},
    "no-stdio": {"stdio": "UNIMPLEMENTED"},
    "no-reflection": {"reflection": "UNIMPLEMENTED"},
    "ignore-shutdown": {"shutdown": "plugin failed to exit gracefully"},
}
PY_FAULTS = {
    "stray-stdout": ({"stdout": "'fault_plugin: loading configuration'"}, "grpc"),
    "lingering-thread": ({"shutdown": "still running 2 s"}, "grpc"),
    "lingering-thread,serve-netrpc": ({"quit": "still running 2 s"}, "netrpc"),
    "distrust-host": ({"automtls": "refused our client certificate"}, "grpc"),
    "distrust-host,serve-netrpc": ({"automtls": "refused our client certificate"}, "netrpc"),
}


def assert_only(report: Report, failing: dict[str, str]) -> None:
    rows = {row.name: row for row in report.rows}
    assert set(rows) == ALL_ROWS, report.to_table()
    failed = {name for name, row in rows.items() if row.status is Status.FAIL}
    assert failed == set(failing), report.to_table()
    for name, words in failing.items():
        assert words in rows[name].reason, rows[name]
    for row in rows.values():
        if row.status is Status.SKIP:
            assert row.reason.startswith("skipped: "), row
    assert not report.ok


@pytest.mark.parametrize("fault", sorted(GO_FAULTS))
def test_go_faults_are_named(fault: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOPLUGIN_FAULT", fault)
    report = check([str(go_program("./testprogs/faultplugin"))], EXAMPLES, [1], timeout=10)
    assert_only(report, GO_FAULTS[fault])
    if fault == "bad-handshake-line":  # nothing to connect to: those rows say so
        assert {r.name: r.reason for r in report.rows}["health"] == (
            "skipped: no usable handshake line"
        )


@pytest.mark.parametrize("faults", sorted(PY_FAULTS))
def test_python_faults_are_named(
    faults: str, python_path: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOPLUGIN_FAULT", faults)
    failing, protocol = PY_FAULTS[faults]
    command = [sys.executable, str(PLUGINS / "fault_plugin.py")]
    report = check(command, EXAMPLES, [1], timeout=10)
    assert_only(report, failing)
    assert report.protocol == protocol


def test_a_version_the_plugin_lacks_is_a_failed_negotiation(workdir: Path) -> None:
    report = check([str(go_program("./cmd/kv-plugin"))], EXAMPLES, [2])
    rows = {row.name: row for row in report.rows}
    assert rows["negotiation"].status is Status.FAIL
    assert "offered [2], it announced version 1" in rows["negotiation"].reason
    assert rows["health"].status is Status.PASS  # everything else is still checked


def test_nothing_is_left_in_tmpdir(
    python_path: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sockets, the TLS relay's private directories, socket directories: all removed, also for
    a plugin that has to be killed (its lingering thread outlives Shutdown)."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    monkeypatch.setenv("GOPLUGIN_FAULT", "lingering-thread")
    check([sys.executable, str(PLUGINS / "fault_plugin.py")], EXAMPLES, [1])
    check([sys.executable, str(EXAMPLES_PY / "greeter_plugin.py")], EXAMPLES, [1])
    assert list(tmpdir.iterdir()) == []


# -- the command line ---------------------------------------------------------------------------


def run_check(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goplugin", "check", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO / "sdk-python" / "src"), **(env or {})},
    )


def test_cli_json_and_exit_status(workdir: Path) -> None:
    good = run_check(
        str(go_plugin_example("grpc", "plugin-go-grpc")), "--cookie", "BASIC_PLUGIN=hello", "--json"
    )
    assert good.returncode == 0, good.stdout + good.stderr
    data = json.loads(good.stdout)
    assert data["ok"] is True and data["protocol"] == "grpc"
    assert data["counts"] == {"pass": 9, "fail": 0, "skip": 3}
    assert [row["name"] for row in data["rows"]] == [n for n, _ in ROWS if n != "launch"]
    assert data["handshake"].startswith("1|1|unix|")
    bad = run_check(
        str(go_program("./testprogs/faultplugin")),
        "--cookie",
        "BASIC_PLUGIN=hello",
        env={"GOPLUGIN_FAULT": "no-stdio"},
    )
    assert bad.returncode == 1
    lines = bad.stdout.splitlines()
    assert lines[0].startswith("goplugin check ") and lines[-1] == "8 passed, 1 failed, 3 skipped"
    assert any(line.startswith("  FAIL  gRPC GRPCStdio stream opens") for line in lines), bad.stdout


MARKER = "GOPLUGIN_CHECK_TEST_MARKER"


@pytest.fixture
def leftovers(tmp_path: Path) -> Iterator[Path]:
    """After the test, no process may carry this test's marker in its environment: the check
    runs with it, so everything it started, and everything that started, inherited it."""
    yield tmp_path
    time.sleep(0.2)
    remaining = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            marked = proc.environ().get(MARKER) == str(tmp_path)
        except (psutil.Error, OSError):
            continue
        if marked and proc.info["status"] != psutil.STATUS_ZOMBIE:
            remaining.append(" ".join(proc.info["cmdline"] or ()))
    assert not remaining, remaining


def script(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


def assert_one_row(result: subprocess.CompletedProcess[str], words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[-1] == "0 passed, 1 failed, 0 skipped", result.stdout
    assert lines[1].startswith("  FAIL  starts and prints a handshake line") and words in lines[1]


def marked(directory: Path) -> dict[str, str]:
    return {MARKER: str(directory)}


def test_a_path_that_cannot_be_executed(leftovers: Path) -> None:
    plain = script(leftovers, "plain", "echo hi\n", mode=0o644)
    env = marked(leftovers)
    assert_one_row(run_check(str(plain), "--cookie", "A=b", env=env), "Permission denied")
    missing = run_check(str(leftovers / "missing"), "--cookie", "A=b", env=env)
    assert_one_row(missing, "No such file")


@pytest.mark.parametrize("timeout", [1.0, 3.0])
def test_a_script_that_hangs(leftovers: Path, timeout: float) -> None:
    """It and the process it started are gone, and check returned within its timeout (plus
    this interpreter's own start, which no timeout covers: a hang would break any bound)."""
    hang = script(leftovers, "hang", "sleep 1000 &\nexec sleep 1001\n")
    started = time.monotonic()
    result = run_check(
        str(hang), "--cookie", "A=b", "--timeout", str(timeout), env=marked(leftovers)
    )
    elapsed = time.monotonic() - started
    assert_one_row(result, f"no handshake line within {timeout:g} s")
    assert elapsed < timeout + 5.0, elapsed


def test_a_binary_that_is_not_a_plugin(leftovers: Path) -> None:
    env = marked(leftovers)
    chatty = script(leftovers, "chatty", "echo 'hello, world'\nsleep 1000 &\n")
    result = run_check(str(chatty), "--cookie", "A=b", env=env)
    assert_one_row(result, "its stdout began 'hello, world'")
    assert_one_row(run_check("/bin/true", "--cookie", "A=b", env=env), "exited with status 0")


def test_the_wrong_cookie_is_named(workdir: Path) -> None:
    result = run_check(str(go_program("./cmd/kv-plugin")), "--cookie", "BASIC_PLUGIN=nope")
    assert_one_row(result, "is that its magic cookie?")
