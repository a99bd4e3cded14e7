"""Code generation from .proto contracts (build time only: the goplugin runtime never imports
this package, and generated code does not import it either).

One contract gives everything go-plugin otherwise needs written by hand, on both sides:

* Python: protobuf's own message classes (``_pb2.py`` + ``.pyi``, imports made relative) and
  ``<file>_goplugin.py`` with, per service ``S``, ``SClient``/``AsyncSClient`` (host),
  ``SServicer``/``AsyncSServicer`` (plugin base classes) and ``SPlugin`` (the GRPCPlugin).
* Go: protoc-gen-go and protoc-gen-go-grpc output plus ``<file>_goplugin.pb.go`` with the
  ``S`` interface, ``SPlugin`` (plugin.GRPCPlugin), ``DispenseS`` and the adapters.
* Opt-in, Python: ``python_messages="betterproto2"`` (``--python-messages betterproto2``)
  writes betterproto2-compiler's dataclasses (one module per proto package) and
  ``<file>_goplugin_bp2.py`` with the same five names over them, on grpcio. Give it its own
  output folder; it needs ``goplugin[codegen-betterproto2]`` to generate and
  ``goplugin[betterproto2]`` to run.

Run ``python -m goplugin.codegen --help``. It needs grpcio-tools (``pip install
goplugin[codegen]``) and, for Go output, protoc-gen-go and protoc-gen-go-grpc.
"""

from __future__ import annotations

from ._driver import CodegenError, Job, run_job

__all__ = ["CodegenError", "Job", "run_job"]
