"""``python -m bench._probe SCRIPT``: list the files a Python plugin's start reads.

Loads SCRIPT as a module (its ``if __name__ == "__main__"`` block does not run), then what
serving pulls in lazily, and prints every loaded module's source, bytecode and extension
files and the shared objects mapped, as JSON. The runner evicts exactly these for cold starts.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import runpy
import sys


def main(script: str) -> None:
    runpy.run_path(script, run_name="__bench_probe__")
    # What serving imports lazily, for the stacks the script uses (a peer's plugin must not
    # load goplugin: both register go-plugin's internal protos in protobuf's default pool).
    for name in ("goplugin._sync.server", "goplugin._async.server", "grpc._server"):
        if name.partition(".")[0] in sys.modules:
            importlib.import_module(name)
    files: set[str] = {script}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path:
            continue
        files.add(path)
        if path.endswith(".py"):
            try:
                files.add(importlib.util.cache_from_source(path))
            except (NotImplementedError, ValueError):
                pass
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith("/"):
                files.add(fields[5])
    print(json.dumps(sorted(files)))


if __name__ == "__main__":
    main(sys.argv[1])
