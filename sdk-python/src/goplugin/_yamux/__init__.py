"""yamux, the stream multiplexer under net/rpc plugins and gRPC broker multiplexing.

A sans-IO core (``connection``: the session state machine; ``frames``: the wire vocabulary;
``state``: the stream transition table) and the thread-based IO around it (``session``,
``stream``). Shared by ``netrpc`` and ``_transport.grpcmux`` (PLUGIN_MULTIPLEX_GRPC).

May import: ``errors`` and ``_protocol``. Nothing of the transport, either side, the twins or
net/rpc (ARCHITECTURE.md).
"""
