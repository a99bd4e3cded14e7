"""serve()'s logging set-up (goplugin._plugin.runtime.configure_logging): one handler however
often it runs, INFO unless asked, and grpc's own loggers kept out of DEBUG unless the user set
them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from goplugin._plugin.runtime import configure_logging, log_level_from_env


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root, grpc_logger = logging.getLogger(), logging.getLogger("grpc")
    handlers, level, grpc_level = root.handlers[:], root.level, grpc_logger.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    grpc_logger.setLevel(grpc_level)


def ours(root: logging.Logger, stream: io.StringIO) -> list[logging.Handler]:
    return [h for h in root.handlers if getattr(h, "stream", None) is stream]


def test_configuring_twice_installs_one_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    before = len(root.handlers)
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    configure_logging(logging.INFO)
    monkeypatch.setattr("sys.stderr", second)
    configure_logging(logging.INFO)
    assert len(root.handlers) == before + 1
    assert ours(root, first) == [] and len(ours(root, second)) == 1
    logging.getLogger("x").info("hello")
    assert json.loads(second.getvalue())["@message"] == "hello"
    assert first.getvalue() == ""


def test_grpc_stays_out_of_debug_unless_the_user_set_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    grpc_logger = logging.getLogger("grpc")
    grpc_logger.setLevel(logging.NOTSET)
    configure_logging(logging.DEBUG)
    assert logging.getLogger().level == logging.DEBUG
    assert not logging.getLogger("grpc._cython.cygrpc").isEnabledFor(logging.DEBUG)
    configure_logging(logging.WARNING)  # again, stricter: grpc follows
    assert not grpc_logger.isEnabledFor(logging.INFO)
    grpc_logger.setLevel(logging.DEBUG)  # the user asks for grpc's own lines
    configure_logging(logging.DEBUG)
    assert grpc_logger.level == logging.DEBUG


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (None, logging.INFO),
        ("", logging.INFO),
        ("trace", 5),
        ("DEBUG", logging.DEBUG),
        ("warn", logging.WARNING),
        ("error", logging.ERROR),
        ("nonsense", logging.INFO),
    ],
)
def test_the_default_level_comes_from_goplugin_log_level(
    value: str | None, level: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("GOPLUGIN_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("GOPLUGIN_LOG_LEVEL", value)
    assert log_level_from_env() == level
