"""A plugin's output reaches the host's logging without ever stalling the host.

Log records are handled on one dispatcher thread, not on the thread that reads pipes and reaps
processes: a log handler that blocks delays log records only (and drops them past a bound),
never another plugin's handshake or exit.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLE_HANDSHAKE, PLUGINS
from gobuild import go_program

import goplugin
import goplugin.aio

pytestmark = pytest.mark.interop


@pytest.fixture
def fault_plugin(plugin_pythonpath: None) -> list[str]:
    return [sys.executable, str(PLUGINS / "fault_plugin.py")]


class SlowHandler(logging.Handler):
    """Takes a second per record, until released."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.unblock = threading.Event()
        self.handled = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.handled += 1
        self.unblock.wait(1.0)


@pytest.fixture
def slow_logger() -> Iterator[tuple[logging.Logger, SlowHandler]]:
    logger = logging.getLogger("goplugin.test.slow")
    handler = SlowHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, handler
    handler.unblock.set()  # let the dispatcher drain quickly for the tests that follow
    logger.removeHandler(handler)


@pytest.mark.timeout(60)
def test_a_slow_log_handler_does_not_delay_other_plugins(
    go_kv_plugin: Path, workdir: Path, slow_logger: tuple[logging.Logger, SlowHandler]
) -> None:
    logger, handler = slow_logger
    flooder = goplugin.PluginClient(
        [go_program("./testprogs/faultplugin")],
        handshake=EXAMPLE_HANDSHAKE,
        env={"GOPLUGIN_FAULT": "stderr-flood"},
        logger=logger,
        start_timeout=10,
    )
    starting = threading.Thread(target=flooder.start, daemon=True)
    starting.start()
    try:
        deadline = time.monotonic() + 10
        while handler.handled == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert handler.handled, "the flood never reached the slow handler"
        began = time.monotonic()
        other = goplugin.PluginClient([go_kv_plugin], handshake=EXAMPLE_HANDSHAKE, start_timeout=5)
        other.start()
        started = time.monotonic() - began
        other.ping()
        began = time.monotonic()
        other.kill()
        killed = time.monotonic() - began
        # Bounds only a stall behind the slow handler (a second per record) would break.
        assert started < 2.0 and killed < 2.0, (started, killed)
        starting.join(10)
        assert not starting.is_alive(), "the flooding plugin's own start waited on its logs"
        flooder.ping()
    finally:
        handler.unblock.set()
        flooder.kill()


def plugin_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    return [
        (getattr(r, "plugin_stream", "?"), r.levelno, r.getMessage())
        for r in caplog.records
        if r.name.startswith("goplugin.plugin.")
    ]


@pytest.mark.parametrize("serve_flavour", ["sync", "aio"])
def test_print_of_a_python_plugin_reaches_the_hosts_log(
    fault_plugin: list[str], caplog: pytest.LogCaptureFixture, serve_flavour: str, engine: str
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    caplog.set_level(logging.DEBUG, logger="goplugin.plugin")
    env = {"GOPLUGIN_FAULT_FLAVOUR": serve_flavour}
    with goplugin.PluginClient(fault_plugin, handshake=EXAMPLE_HANDSHAKE, env=env) as client:
        kv = kv_goplugin.KVClient(client.grpc_channel)
        assert kv.get(kv_pb2.GetRequest(key="fault:print:hi")).value == b"printed"
    lines = plugin_lines(caplog)
    assert ("stdout", logging.INFO, "hi") in lines, lines
    assert ("stderr", logging.INFO, "hi") in lines, lines


async def test_print_reaches_the_log_of_an_asyncio_host(
    fault_plugin: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    caplog.set_level(logging.DEBUG, logger="goplugin.plugin")
    async with goplugin.aio.PluginClient(fault_plugin, handshake=EXAMPLE_HANDSHAKE) as client:
        kv = kv_goplugin.AsyncKVClient(client.grpc_channel)
        assert (await kv.get(kv_pb2.GetRequest(key="fault:print:hi"))).value == b"printed"
    assert ("stdout", logging.INFO, "hi") in plugin_lines(caplog)


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_netrpc_plugin_output_reaches_the_hosts_log(
    py_netrpc_plugin: list[str], caplog: pytest.LogCaptureFixture, flavour: str
) -> None:
    from goplugin.netrpc import gob

    caplog.set_level(logging.DEBUG, logger="goplugin.plugin")
    env = {"NETRPC_TEST_AIO": "1"} if flavour == "aio" else {}
    with goplugin.PluginClient(py_netrpc_plugin, handshake=EXAMPLE_HANDSHAKE, env=env) as client:
        client.dispense("greeter").call("Plugin.Greet", None, gob.STRING)
    lines = plugin_lines(caplog)
    assert ("stdout", logging.INFO, "stdout: greet") in lines, lines
    assert ("stderr", logging.INFO, "stderr: greet") in lines, lines


def test_sync_stdout_and_stderr_still_redirect(
    fault_plugin: list[str], caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from gen.kv import kv_goplugin, kv_pb2

    caplog.set_level(logging.DEBUG, logger="goplugin.plugin")
    out_path = tmp_path / "out"
    with (
        open(out_path, "wb") as out,
        goplugin.PluginClient(fault_plugin, handshake=EXAMPLE_HANDSHAKE, sync_stdout=out) as client,
    ):
        kv_goplugin.KVClient(client.grpc_channel).get(kv_pb2.GetRequest(key="fault:print:hi"))
    assert out_path.read_bytes() == b"hi\n"
    lines = plugin_lines(caplog)
    assert ("stdout", logging.INFO, "hi") not in lines  # redirected, not logged
    assert ("stderr", logging.INFO, "hi") in lines


def test_the_crash_tail_has_what_the_plugin_printed_before_dying(
    fault_plugin: list[str], engine: str
) -> None:
    """Under serve(), on either engine. aio.serve() does not make a print() wait until it is
    sent (see _services/stdio.py): there a line printed right before os._exit() may be lost."""
    from gen.kv import kv_goplugin, kv_pb2

    with goplugin.PluginClient(fault_plugin, handshake=EXAMPLE_HANDSHAKE) as client:
        kv = kv_goplugin.KVClient(client.grpc_channel)
        with pytest.raises(goplugin.PluginExitedError) as info:
            kv.get(kv_pb2.GetRequest(key="fault:print-then-exit:last words"))
    assert info.value.returncode == 5
    assert any("last words" in line for line in info.value.stderr_tail), info.value.stderr_tail
    assert "last words" in str(info.value)
