"""Go types for gob, the encoding of net/rpc: describe what a Go peer sends and expects.

``STRING``, ``INT``, ``UINT32``, ``BYTES`` (``[]byte``), ``INTERFACE`` (``interface{}``),
``MAP_STRING_ANY`` (``map[string]interface{}``), ``Slice(t)``, ``Map(k, v)``,
``Struct("Args", [("A", INT), ("B", INT)])`` (decoded as dicts, or as ``cls`` instances),
``Ptr(t)``, ``named("Names", Slice(STRING))`` for Go type definitions, ``Typed(t, value)`` to
pick the Go type of a value inside an ``interface{}``, and :func:`register` for the names of
types that travel inside interfaces (Go's ``gob.Register``).

The :class:`Encoder` and :class:`Decoder` are sans-IO and usable on their own.
"""

from __future__ import annotations

from ._gob import *  # noqa: F403
from ._gob import __all__ as __all__
