"""Our yamux Session against the real hashicorp/yamux v0.1.2, in both roles.

The Go side is ``examples-go/testprogs/yamuxpeer`` (built once per test session), speaking
yamux over one end of a socketpair. Python drives it with commands on streams it opens; see the
program's doc comment. Both peers ping every 50 ms throughout, so every test also checks that
pings are answered (a missed answer makes Go end the session).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from gobuild import go_program
from threaded import joined, run

from goplugin._yamux.session import Session, Stream
from goplugin.errors import ConnectionClosedError

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.interop

SAFETY = 60.0  # only reached when something is broken
# What hashicorp/yamux logs when the peer breaks the protocol (session.go, stream.go).
GO_PROTOCOL_COMPLAINTS = (
    "Invalid protocol version",
    "invalid msg type",
    "receive window exceeded",
    "unexpected FIN",
    "duplicate stream",
    "protocol error go away",
    "keepalive failed",
    "SYN tracking out of sync",
    "without inflight SYN",
)


@pytest.fixture(scope="session")
def yamuxpeer() -> Path:
    return go_program("./testprogs/yamuxpeer")


class GoPeer:
    def __init__(self, session: Session, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.session = session
        self.proc = proc
        self.log = log

    def command(self, text: str) -> str:
        """Send a command on a new stream; return the Go side's one-line reply."""
        stream = self.session.open_stream()
        stream.write(text.encode() + b"\n")
        stream.close()
        reply = read_all(stream).decode()
        assert reply.endswith("\n"), f"{text!r}: truncated reply {reply!r}"
        return reply.strip()

    def serve_echo(self) -> None:
        """Echo every stream the Go side opens (its ``open`` command checks the echo)."""

        def serve() -> None:
            while True:
                try:
                    stream = self.session.accept_stream()
                except ConnectionClosedError:
                    return
                assert stream is not None
                threading.Thread(target=echo, args=(stream,), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()


def echo(stream: Stream) -> None:
    try:
        while data := stream.read():
            stream.write(data)
        stream.close()
    except ConnectionClosedError:
        pass


def read_all(stream: Stream) -> bytes:
    out = bytearray()
    while data := stream.read(1 << 20):
        out += data
    return bytes(out)


@pytest.fixture(params=[True, False], ids=["python-client", "python-server"])
def go(request: pytest.FixtureRequest, yamuxpeer: Path, tmp_path: Path) -> Iterator[GoPeer]:
    python_is_client: bool = request.param
    ours, theirs = socket.socketpair()
    log = tmp_path / "yamuxpeer.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                str(yamuxpeer),
                "-role",
                "server" if python_is_client else "client",
                "-fd",
                str(theirs.fileno()),
                "-keepalive",
                "50ms",
            ],
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    theirs.close()
    session = Session(ours, client=python_is_client, keepalive_interval=0.05)
    peer = GoPeer(session, proc, log)
    try:
        yield peer
    finally:
        session.close()
        try:
            code = proc.wait(SAFETY)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        text = log.read_text(errors="replace")
        assert code == 0, text
        complaints = [
            ln for ln in text.splitlines() if any(c in ln for c in GO_PROTOCOL_COMPLAINTS)
        ]
        assert not complaints, text


def test_echo_larger_than_the_window(go: GoPeer) -> None:
    payload = os.urandom(1_500_000)
    stream = go.session.open_stream()

    def send() -> None:
        stream.write(b"echo\n" + payload)
        stream.close()

    writer, box = run(send)
    assert read_all(stream) == payload
    assert joined(writer, box, SAFETY) is None


def test_python_to_go_bulk(go: GoPeer) -> None:
    payload = os.urandom(3_000_000)
    stream = go.session.open_stream()
    stream.write(b"sink\n" + payload)
    stream.close()
    assert read_all(stream).decode() == f"{len(payload)} {hashlib.sha256(payload).hexdigest()}\n"


def test_go_to_python_bulk(go: GoPeer) -> None:
    command, box = run(lambda: go.command("source 3000000"))
    stream = go.session.accept_stream(SAFETY)
    assert stream is not None
    assert stream.id % 2 == (1 if go.session._core.client else 0) ^ 1  # the peer's parity
    data = read_all(stream)
    stream.close()
    assert len(data) == 3_000_000
    assert joined(command, box, SAFETY) == hashlib.sha256(data).hexdigest()


def assert_streams_released(go: GoPeer) -> None:
    """Both sides forgot every finished stream (Go counts the one asking, hence 1).

    Go's Stream.Close drops the stream from its map only after its FIN is written, so our
    next command can overtake it: ask until the count settles.
    """
    for _ in range(500):
        count = go.command("numstreams")
        if count == "1":
            break
        time.sleep(0.01)
    assert count == "1"
    assert not go.session._streams


def test_go_opens_many_streams(go: GoPeer) -> None:
    go.serve_echo()
    assert go.command("open 300 2000") == "ok"  # more than the 256 accept backlog
    assert go.command("open 4 700000") == "ok"  # Go writes beyond our window, we echo
    assert_streams_released(go)


def test_python_opens_many_streams(go: GoPeer) -> None:
    streams = [go.session.open_stream() for _ in range(300)]
    for i, stream in enumerate(streams):
        stream.write(b"echo\n%d" % i)
        stream.close()
    assert [read_all(s) for s in streams] == [b"%d" % i for i in range(300)]
    assert_streams_released(go)


def test_pings_both_ways(go: GoPeer) -> None:
    assert go.command("ping") == "ok"
    assert go.session.ping(SAFETY) is not None


def test_go_away_from_go(go: GoPeer) -> None:
    stream = go.session.open_stream()
    stream.write(b"echo\n")
    assert go.command("goaway") == "ok"
    with pytest.raises(ConnectionClosedError, match="not accepting"):
        go.session.open_stream()
    stream.write(b"existing streams carry on")
    stream.close()
    assert read_all(stream) == b"existing streams carry on"


def test_go_away_from_python(go: GoPeer) -> None:
    go.session.go_away()
    # The go-away is on the wire before this command, so Go knows not to even try.
    assert go.command("open 1 10") == "error: open: remote end is not accepting connections"


def watch(go: GoPeer, name: str) -> Stream:
    """A stream Go reads until it ends; returns once Go is reading it."""
    stream = go.session.open_stream()
    stream.write(b"watch %s\n" % name.encode())
    assert read_line(stream) == "watching"
    return stream


def read_line(stream: Stream) -> str:
    line = bytearray()
    while not line.endswith(b"\n"):
        data = stream.read(1)
        assert data, f"stream ended after {bytes(line)!r}"
        line += data
    return line.decode().strip()


def test_go_sees_our_reset_and_close(go: GoPeer) -> None:
    aborted = watch(go, "reset")
    aborted.write(b"partial")
    closed = watch(go, "close")
    closed.write(b"complete")
    aborted.reset()
    closed.close()
    assert go.command("result reset") == "connection reset"
    assert go.command("result close") == "EOF"
    assert read_all(closed) == b""


def test_go_closing_the_session_wakes_us(go: GoPeer) -> None:
    idle = watch(go, "idle")
    reader, box = run(idle.read)
    acceptor, accept_box = run(go.session.accept_stream)
    closer = go.session.open_stream()
    closer.write(b"close\n")
    assert read_line(closer) == "ok"
    assert isinstance(joined(reader, box, SAFETY), ConnectionClosedError)
    assert isinstance(joined(acceptor, accept_box, SAFETY), ConnectionClosedError)
    with pytest.raises(ConnectionClosedError):
        closer.read()
    assert go.session.closed
    assert go.proc.wait(SAFETY) == 0
