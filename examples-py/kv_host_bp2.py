"""A Python host for KV plugins (Go or Python) with betterproto2 dataclasses::

python kv_host_bp2.py "<plugin command>" put KEY VALUE
python kv_host_bp2.py "<plugin command>" get KEY

The plugin may use any flavour or language: only protobuf bytes cross the wire.
"""

from __future__ import annotations

import sys

from gen_bp2 import proto as kv
from gen_bp2.kv import kv_goplugin_bp2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in ("put", "get"):
        print(__doc__, file=sys.stderr)
        return 2
    kv_plugin = kv_goplugin_bp2.KVPlugin()
    with goplugin.PluginClient(argv[0], handshake=HANDSHAKE, plugins={"kv": kv_plugin}) as client:
        store = client.dispense(kv_plugin)  # a kv_goplugin_bp2.KVClient
        if argv[1] == "put":
            store.put(kv.PutRequest(key=argv[2], value=argv[3].encode()), timeout=10)
        else:
            print(store.get(kv.GetRequest(key=argv[2]), timeout=10).value.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
