"""The plugin side, flavour-independent: what ``serve()`` decides and sets up in its process.

``config`` (cookie, versions, protocol and listen address from the host's environment),
``runtime`` (the process's side effects: logging, stdio, listeners, signals), ``testmode``
(ServeTestConfig), ``servicerguard`` (is a servicer fit to serve), ``watchdog`` (notice the
host is gone).

May import the shared layers (``_protocol``, ``_yamux``, ``_transport``, ``_services``,
``_engines``, ``netrpc``). Never ``_host`` (the two sides never import each other),
``_backends`` or the twins (ARCHITECTURE.md).
"""
