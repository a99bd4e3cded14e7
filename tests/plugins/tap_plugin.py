"""A wiretap between a host and a real plugin, for tests that read the protocol's bytes.

    tap_plugin.py RECORD.jsonl PLUGIN-COMMAND...

The host launches this as its plugin. It starts the real plugin with the same environment,
reads the real handshake line, listens on a socket of its own and announces that instead, then
copies bytes both ways for the one connection the host makes, appending every chunk to
RECORD.jsonl as {"dir": "h2p" or "p2h", "hex": ...}. It exits with the real plugin's status
once the plugin has exited and the connection is done. Only plaintext unix-socket plugins.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
from typing import TextIO


def main() -> int:
    record_path, cmd = sys.argv[1], sys.argv[2:]
    real = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert real.stdout is not None
    line = real.stdout.readline().decode()
    fields = line.rstrip("\n").split("|")
    if len(fields) < 4 or fields[2] != "unix":
        sys.stderr.write(f"tap_plugin: cannot tap {line!r}\n")
        real.kill()
        return 2
    directory = tempfile.mkdtemp(prefix="tap-")
    path = os.path.join(directory, "tap.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    fields[3] = path
    sys.stdout.write("|".join(fields) + "\n")
    sys.stdout.flush()
    host, _ = listener.accept()
    plugin = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    plugin.connect(line.split("|")[3])
    with open(record_path, "a", encoding="ascii") as record:
        _copy(host, plugin, record)
    status = real.wait()
    os.unlink(path)
    os.rmdir(directory)
    return status


def _copy(host: socket.socket, plugin: socket.socket, record: TextIO) -> None:
    sel = selectors.DefaultSelector()
    sel.register(host, selectors.EVENT_READ, (plugin, "h2p"))
    sel.register(plugin, selectors.EVENT_READ, (host, "p2h"))
    open_ends = 2
    while open_ends:
        for key, _ in sel.select():
            source = key.fileobj
            target, direction = key.data
            assert isinstance(source, socket.socket)
            data = source.recv(65536)
            if not data:
                sel.unregister(source)
                open_ends -= 1
                try:
                    target.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            record.write(json.dumps({"dir": direction, "hex": data.hex()}) + "\n")
            record.flush()
            try:
                target.sendall(data)
            except OSError:
                pass


if __name__ == "__main__":
    raise SystemExit(main())
