"""Where sockets go (goplugin._transport.sockets): a private 0700 directory with room for any
socket name, under TMPDIR when it fits, else under XDG_RUNTIME_DIR, else /tmp; a typed error
otherwise."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from goplugin._transport import sockets as _sockets
from goplugin._transport.sockets import (
    SOCKET_NAME_ROOM,
    SUN_PATH_MAX,
    check_socket_path,
    listen_unix,
    private_socket_dir,
    unique_socket_path,
)
from goplugin.errors import SocketPathTooLongError


def padded(base: Path, length: int) -> Path:
    path = str(base)
    while len(path) < length:
        path = os.path.join(path, "x" * min(40, length - len(path) - 1))
    os.makedirs(path, exist_ok=True)
    assert len(path) == length
    return Path(path)


@pytest.fixture
def short(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    # pytest's tmp paths can be long themselves: start from a short one.
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="gps"))
    yield base
    shutil.rmtree(base, ignore_errors=True)


def made_under(path: str, root: Path) -> bool:
    return Path(path).parent == root


def test_the_limit_is_sun_path_less_its_nul() -> None:
    assert SUN_PATH_MAX == 107  # Linux, where these tests run
    assert len("/plugin4294967295") == SOCKET_NAME_ROOM


def test_under_tmpdir_when_it_has_room(short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(short))
    path = private_socket_dir("plugin")
    assert made_under(path, short)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert len(path) + SOCKET_NAME_ROOM <= SUN_PATH_MAX


@pytest.mark.parametrize("length", [80, 90, 120])
def test_a_long_tmpdir_falls_back_to_the_runtime_dir(
    length: int, short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = short / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(padded(short / "t", length)))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    path = private_socket_dir("goplugin-")
    assert made_under(path, runtime)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    sock = listen_unix(unique_socket_path(path))
    sock.close()


def test_then_to_tmp(short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(padded(short / "t", 95)))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(padded(short / "r", 95)))
    path = private_socket_dir("goplugin-")
    try:
        assert made_under(path, Path("/tmp"))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    finally:
        os.rmdir(path)


def test_nowhere_with_room_is_a_typed_error(short: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    long = padded(short / "t", 95)
    monkeypatch.setenv("TMPDIR", str(long))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(_sockets, "LAST_RESORT_TMPDIR", str(long))
    with pytest.raises(SocketPathTooLongError) as info:
        private_socket_dir("goplugin-")
    assert info.value.limit == SUN_PATH_MAX
    assert info.value.path.startswith(str(long) + "/goplugin-")
    assert "107-byte" in str(info.value) and str(long) in str(info.value)
    assert list(long.iterdir()) == []


@pytest.mark.parametrize("length", [85, 90, 91, 96])
def test_socket_names_fit_where_a_go_plugin_could_fit_by_luck(short: Path, length: int) -> None:
    """Go's name has up to ten digits; where fewer fit, ours has fewer (down to four)."""
    directory = padded(short / "d", length)
    for _ in range(50):
        path = unique_socket_path(str(directory))
        assert len(path) <= SUN_PATH_MAX
        assert Path(path).name.startswith("plugin")
    listen_unix(unique_socket_path(str(directory))).close()


def test_no_room_even_for_a_short_name(short: Path) -> None:
    directory = padded(short / "d", 97)
    with pytest.raises(SocketPathTooLongError) as info:
        unique_socket_path(str(directory))
    assert info.value.path.startswith(str(directory) + "/plugin")


def test_binding_a_long_path_is_a_typed_error(short: Path) -> None:
    path = str(padded(short / "d", 100)) + "/sock1234"
    with pytest.raises(SocketPathTooLongError):
        listen_unix(path)
    with pytest.raises(SocketPathTooLongError):
        check_socket_path(path)
    assert check_socket_path(path[:SUN_PATH_MAX]) == path[:SUN_PATH_MAX]
