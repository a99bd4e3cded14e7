"""go-plugin's internal services, one module each: what both flavours share of them.

``broker`` (GRPCBroker's bookkeeping), ``stdio`` (GRPCStdio: the plugin's captured output),
``health`` (grpc.health.v1), ``controller`` (GRPCController.Shutdown), ``reflection`` (server
reflection), ``handlers`` (method handlers they register without importing grpc). The
handlers' registration and the streams themselves are the twins' (``_async/server.py``,
``_async/broker.py``).

May import: ``errors`` and ``_protocol``. Never transport, either side, the twins or
``_backends`` (ARCHITECTURE.md).
"""
