"""Sans-IO protocol cores: go-plugin's wire rules as pure functions and data, no IO.

Owns the handshake line, the launch environment and version negotiation (``handshake``),
hclog lines <-> logging records (``hclog``), ReattachConfig (``reattach``), AutoMTLS's X.509
bytes (``x509``), and the names and messages of go-plugin's internal services (``internal``).

May import: ``errors`` and the generated ``_proto`` messages. Never sockets, ssl, threads,
asyncio, subprocesses or grpc, and nothing above it (ARCHITECTURE.md; enforced by
tests/unit/test_architecture.py).
"""
