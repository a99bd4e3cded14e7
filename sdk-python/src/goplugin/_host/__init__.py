"""The host side, flavour-independent: what a PluginClient and a Supervisor decide and run.

``process`` (the only place that spawns, kills and reaps plugins) and ``watcher`` (the thread
that does it), ``output`` (where a plugin's stdout/stderr go), ``config`` (client options),
``lifecycle`` (the client's state table), ``supervision``/``supervised`` (the Supervisor's
decisions and stable clients), ``checksum`` (SecureConfig).

May import the shared layers (``_protocol``, ``_yamux``, ``_transport``, ``_services``,
``netrpc``). Never ``_plugin`` (the two sides never import each other), ``_engines``,
``_backends`` or the twins (ARCHITECTURE.md).
"""
