"""How bytes get between host and plugin: listen and connect paths, sockets, TLS, channels.

``endpoints`` (every gRPC listener and dial, TLS decided in one place), ``sockets`` (where unix
sockets live), ``mtls`` (AutoMTLS certificates and TLS contexts), ``tlsrelay``/``tlslink``
(OpenSSL relays in front of a plaintext grpcio), ``grpcmux`` (the broker over yamux),
``channel``/``aio_channel`` (gRPC channels whose calls fail with typed errors).

May import: ``errors``, ``_protocol``, ``_yamux`` and ``_engines``. Never either side
(``_host``, ``_plugin``), the twins or ``_backends`` (ARCHITECTURE.md).
"""
