"""The unexported adapters of the Go glue: each interface method on the host side (over the
gRPC client stub) and on the plugin side (over the gRPC server stream).

Streams become iterators. A host's response iterator starts the call when ranged over and
cancels it when the loop ends early; a plugin's request iterator reads ``Recv`` and keeps a
receive error (other than EOF) to return instead of the implementation's result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._model import Kind, Method, Service
from ._names import go_camel_case

if TYPE_CHECKING:
    from ._go import GoContext

__all__ = ["client_method", "server_method", "signature"]

GRPC_PKG = "google.golang.org/grpc"


def signature(method: Method, ctx: GoContext) -> str:
    req, res = ctx.type(method.input), ctx.type(method.output)
    iter_pkg = ctx.imports.use("iter", "iter") if method.kind is not Kind.UNARY_UNARY else ""
    arg = f"reqs {iter_pkg}.Seq[*{req}]" if method.kind.client_streaming else f"req *{req}"
    ret = f"{iter_pkg}.Seq2[*{res}, error]" if method.kind.server_streaming else f"(*{res}, error)"
    return f"{go_camel_case(method.name)}(ctx context.Context, {arg}) {ret}"


def _recv_iter(req: str, stream: str, ctx: GoContext) -> list[str]:
    """An iter.Seq over a server-side stream's requests; a receive error is kept for later."""
    atomic = ctx.imports.use("sync/atomic", "atomic")
    io = ctx.imports.use("io", "io")
    return [
        f"\tvar recvErr {atomic}.Pointer[error]",
        f"\treqs := func(yield func(*{req}) bool) {{",
        "\t\tfor {",
        f"\t\t\tmsg, err := {stream}.Recv()",
        "\t\t\tif err != nil {",
        f"\t\t\t\tif err != {io}.EOF {{",
        "\t\t\t\t\trecvErr.Store(&err)",
        "\t\t\t\t}",
        "\t\t\t\treturn",
        "\t\t\t}",
        "\t\t\tif !yield(msg) {",
        "\t\t\t\treturn",
        "\t\t\t}",
        "\t\t}",
        "\t}",
    ]


def _recv_loop(io: str) -> list[str]:
    """The body of a client-side iterator over a response stream called ``stream``."""
    return [
        "\t\tfor {",
        "\t\t\tmsg, err := stream.Recv()",
        f"\t\t\tif err == {io}.EOF {{",
        "\t\t\t\treturn",
        "\t\t\t}",
        "\t\t\tif err != nil {",
        "\t\t\t\tyield(nil, err)",
        "\t\t\t\treturn",
        "\t\t\t}",
        "\t\t\tif !yield(msg, nil) {",
        "\t\t\t\treturn",
        "\t\t\t}",
        "\t\t}",
        "\t}",
    ]


def client_method(service: Service, method: Method, ctx: GoContext) -> list[str]:
    recv = f"goplugin{go_camel_case(service.name)}Client"
    name = go_camel_case(method.name)
    res = ctx.type(method.output)
    out = [f"func (c *{recv}) {signature(method, ctx)} {{"]
    if method.kind is Kind.UNARY_UNARY:
        return [*out, f"\treturn c.stub.{name}(ctx, req)", "}"]
    io = ctx.imports.use("io", "io")
    if method.kind is Kind.STREAM_UNARY:
        return [
            *out,
            "\tctx, cancel := context.WithCancel(ctx)",
            "\tdefer cancel()",
            f"\tstream, err := c.stub.{name}(ctx)",
            "\tif err != nil {",
            "\t\treturn nil, err",
            "\t}",
            "\tfor req := range reqs {",
            "\t\tif stream.Send(req) != nil {",
            "\t\t\tbreak // the call ended; CloseAndRecv reports how",
            "\t\t}",
            "\t}",
            "\treturn stream.CloseAndRecv()",
            "}",
        ]
    out += [
        f"\treturn func(yield func(*{res}, error) bool) {{",
        "\t\tctx, cancel := context.WithCancel(ctx)",
        "\t\tdefer cancel()",
    ]
    if method.kind is Kind.UNARY_STREAM:
        out.append(f"\t\tstream, err := c.stub.{name}(ctx, req)")
    else:
        out.append(f"\t\tstream, err := c.stub.{name}(ctx)")
    out += ["\t\tif err != nil {", "\t\t\tyield(nil, err)", "\t\t\treturn", "\t\t}"]
    if method.kind is Kind.STREAM_STREAM:
        out += [
            "\t\tgo func() {",
            "\t\t\tfor req := range reqs {",
            "\t\t\t\tif stream.Send(req) != nil {",
            "\t\t\t\t\treturn",
            "\t\t\t\t}",
            "\t\t\t}",
            "\t\t\t_ = stream.CloseSend()",
            "\t\t}()",
        ]
    return [*out, *_recv_loop(io), "}"]


def server_method(service: Service, method: Method, ctx: GoContext) -> list[str]:
    recv = f"goplugin{go_camel_case(service.name)}Server"
    name = go_camel_case(method.name)
    req, res = ctx.type(method.input), ctx.type(method.output)
    grpc = ctx.imports.use(GRPC_PKG, "grpc")
    kind = method.kind
    if kind is Kind.UNARY_UNARY:
        return [
            f"func (s *{recv}) {name}(ctx context.Context, req *{req}) (*{res}, error) {{",
            f"\treturn s.impl.{name}(ctx, req)",
            "}",
        ]
    if kind is Kind.UNARY_STREAM:
        return [
            f"func (s *{recv}) {name}(req *{req}, "
            f"stream {grpc}.ServerStreamingServer[{res}]) error {{",
            f"\tfor msg, err := range s.impl.{name}(stream.Context(), req) {{",
            "\t\tif err != nil {",
            "\t\t\treturn err",
            "\t\t}",
            "\t\tif err := stream.Send(msg); err != nil {",
            "\t\t\treturn err",
            "\t\t}",
            "\t}",
            "\treturn nil",
            "}",
        ]
    stream_type = "ClientStreamingServer" if kind is Kind.STREAM_UNARY else "BidiStreamingServer"
    out = [
        f"func (s *{recv}) {name}(stream {grpc}.{stream_type}[{req}, {res}]) error {{",
        *_recv_iter(req, "stream", ctx),
    ]
    if kind is Kind.STREAM_UNARY:
        return [
            *out,
            f"\tres, err := s.impl.{name}(stream.Context(), reqs)",
            "\tif p := recvErr.Load(); p != nil {",
            "\t\treturn *p",
            "\t}",
            "\tif err != nil {",
            "\t\treturn err",
            "\t}",
            "\treturn stream.SendAndClose(res)",
            "}",
        ]
    return [
        *out,
        f"\tfor msg, err := range s.impl.{name}(stream.Context(), reqs) {{",
        "\t\tif p := recvErr.Load(); p != nil {",
        "\t\t\treturn *p",
        "\t\t}",
        "\t\tif err != nil {",
        "\t\t\treturn err",
        "\t\t}",
        "\t\tif err := stream.Send(msg); err != nil {",
        "\t\t\treturn err",
        "\t\t}",
        "\t}",
        "\tif p := recvErr.Load(); p != nil {",
        "\t\treturn *p",
        "\t}",
        "\treturn nil",
        "}",
    ]
