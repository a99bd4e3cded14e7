"""A Python plugin that misbehaves on purpose (the Python twin of testprogs/faultplugin).

Reliability tests launch it to check that hosts survive whatever a plugin does. Faults are
registered by name in the modules of ``faults/`` (one module per group of faults, so that
adding one never touches another):

- before serving: ``GOPLUGIN_FAULT=name[,name...]`` runs each start fault in order, then serves
  (a start fault that must not serve exits or blocks by itself);
- in the middle of a call: ``KV.Get`` with key ``fault:name`` or ``fault:name:arg`` runs the
  call fault and returns its bytes.

``GOPLUGIN_FAULT_FLAVOUR=aio`` serves with ``goplugin.aio.serve`` (call faults then run on a
daemon thread each, so one that blocks blocks neither the event loop nor other calls, nor the
plugin's exit). It serves the KV contract as "kv" with go-plugin's examples' handshake
(BASIC_PLUGIN=hello); the start fault ``serve-netrpc`` serves it over net/rpc instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import faults


def main() -> None:
    for name in filter(None, os.environ.get("GOPLUGIN_FAULT", "").split(",")):
        faults.start_fault(name)()
    # Imported after the start faults: grpc's imports take a while, and a fault that keeps a
    # start from finishing should not make every test that uses it wait for them.
    from fault_kv import serve_kv

    serve_kv(aio=os.environ.get("GOPLUGIN_FAULT_FLAVOUR") == "aio")


if __name__ == "__main__":
    main()
