"""Command line: ``python -m goplugin {inspect,check} PLUGIN [ARGS...]``, ``--version``.

``inspect`` launches a plugin the way a go-plugin host would and prints what it announces
(handshake, gRPC services) as one JSON object. ``check`` tests a plugin binary against what
go-plugin hosts require of it, one row per requirement, and exits non-zero if any failed.
Each subcommand is a module of ``goplugin._cli``. A failure of the tool itself prints a
one-line reason and exits non-zero.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

_SUBCOMMANDS = {
    "inspect": "launch a plugin and describe it as JSON",
    "check": "check a plugin against what go-plugin hosts require",
}


def _cookie(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key or not value:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="python -m goplugin", description=__doc__)
    parser.add_argument("--version", action="version", version=f"goplugin {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, summary in _SUBCOMMANDS.items():
        module = importlib.import_module(f"._cli.{name}", __package__)
        command = sub.add_parser(
            name,
            help=summary,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command, _cookie)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    module = importlib.import_module(f"._cli.{options.command}", __package__)
    try:
        code: int = module.run(options)
    except KeyboardInterrupt:
        print("goplugin: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI's contract: one line, non-zero exit
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        tail = [line for line in getattr(exc, "stderr_tail", ()) if line.strip()]
        if tail:
            reason += f" (plugin stderr: {tail[0]})"
        print(f"goplugin: {type(exc).__name__}: {reason}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
