"""Driver processes as the runner sees them: start, ask a command, read one JSON line, quit.

Every host in the table, Go or Python, is a driver process (benchhost or pyhost) with its
plugin behind it; the runner process itself loads no plugin and imports no grpc, so it
neither competes with them nor keeps grpc's pages resident when cold starts are measured.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["Driver", "DriverError"]


class DriverError(RuntimeError):
    """A driver failed to start or answered with an error; carries its stderr tail."""


class Driver:
    def __init__(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.name = name
        self.cwd = cwd
        self.log = cwd / "driver.log"
        cwd.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.log, "wb")  # noqa: SIM115 - closed in close()
        self._proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
        )
        self._buffer = b""
        self._closed = False

    def ready(self, timeout: float = 120.0) -> dict[str, Any]:
        """Wait for the {"ready": true} line (raises DriverError with its reason otherwise)."""
        return self._read(timeout)

    def ask(self, command: str, timeout: float = 600.0) -> dict[str, Any]:
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(command.encode() + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise self._error(f"{command!r}: driver is gone") from None
        return self._read(timeout, command)

    def _read(self, timeout: float, command: str = "start") -> dict[str, Any]:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise self._error(f"{command!r}: no answer within {timeout:.0f} s")
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise self._error(f"{command!r}: driver exited")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise self._error(f"{command!r}: {reply['error']}", reply.get("trace", ""))
        return reply

    def _error(self, message: str, trace: str = "") -> DriverError:
        self._log_file.flush()
        tail = self.log.read_text(errors="replace")[-3000:]
        details = "\n".join(part for part in (trace.rstrip(), tail.rstrip()) if part)
        return DriverError(f"{self.name}: {message}" + (f"\n{details}" if details else ""))

    def close(self) -> None:
        """Ask the driver to quit (it kills its plugins); SIGTERM, then SIGKILL, if it won't."""
        if self._closed:
            return
        self._closed = True
        proc = self._proc
        try:
            assert proc.stdin is not None
            proc.stdin.write(b"quit\n")
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # both drivers kill their plugins on SIGTERM
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        self._log_file.close()
