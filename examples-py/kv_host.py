"""A Python host for KV plugins (Go or Python), with the generated typed client::

python kv_host.py "<plugin command>" put KEY VALUE
python kv_host.py "<plugin command>" get KEY

Like Terraform, it attaches to a plugin that runs already (``kv_plugin.py --debug``) instead of
launching one when TF_REATTACH_PROVIDERS names the plugin's address.
"""

from __future__ import annotations

import os
import sys

from gen.kv import kv_goplugin, kv_pb2

import goplugin

HANDSHAKE = goplugin.HandshakeConfig(1, "BASIC_PLUGIN", "hello")
ADDRESS = "registry.terraform.io/goplugin/kv"


def running_plugin() -> goplugin.ReattachConfig | None:
    """The plugin TF_REATTACH_PROVIDERS points at, if it does (as Terraform looks it up)."""
    value = os.environ.get("TF_REATTACH_PROVIDERS")
    if not value:
        return None
    return goplugin.ReattachConfig.from_tf_reattach_providers(value).get(ADDRESS)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in ("put", "get"):
        print(__doc__, file=sys.stderr)
        return 2
    kv_plugin = kv_goplugin.KVPlugin()
    reattach = running_plugin()
    cmd = None if reattach is not None else argv[0]
    with goplugin.PluginClient(
        cmd, handshake=HANDSHAKE, plugins={"kv": kv_plugin}, reattach=reattach
    ) as client:
        kv = client.dispense(kv_plugin)  # a kv_goplugin.KVClient, to mypy too
        if argv[1] == "put":
            kv.put(kv_pb2.PutRequest(key=argv[2], value=argv[3].encode()), timeout=10)
        else:
            print(kv.get(kv_pb2.GetRequest(key=argv[2]), timeout=10).value.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
