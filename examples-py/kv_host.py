"""A Python host for KV plugins (Go or Python), with the generated typed client::

python kv_host.py "<plugin command>" put KEY VALUE
python kv_host.py "<plugin command>" get KEY
"""

from __future__ import annotations

import sys

from gen.kv import kv_goplugin, kv_pb2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in ("put", "get"):
        print(__doc__, file=sys.stderr)
        return 2
    plugins = {"kv": kv_goplugin.KVPlugin()}
    with goplugin.PluginClient(argv[0], handshake=HANDSHAKE, plugins=plugins) as client:
        kv: kv_goplugin.KVClient = client.dispense("kv")
        if argv[1] == "put":
            kv.put(kv_pb2.PutRequest(key=argv[2], value=argv[3].encode()), timeout=10)
        else:
            print(kv.get(kv_pb2.GetRequest(key=argv[2]), timeout=10).value.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
