"""The IO seam of the twins: the same names for asyncio (``aio``) and for threads (``sync``).

``_async/`` is written against ``_backends.aio``; scripts/unasync.py turns those imports into
``_backends.sync`` when it generates ``_sync/``. Both modules are written by hand: the
flavours differ here and nowhere else (httpcore's ``_backends/``).

May import the shared layers (``_protocol``, ``_yamux``, ``_transport``, ``_services``,
``_engines``, ``netrpc``). Never ``_host``, ``_plugin`` or the twins (ARCHITECTURE.md).
"""
