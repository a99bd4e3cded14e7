"""The subcommands of ``python -m goplugin``, one module each (``inspect``, ``check``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_plugin_arguments(
    parser: argparse.ArgumentParser, cookie: Callable[[str], tuple[str, str]]
) -> None:
    """What every subcommand is given: the plugin's command line, its cookie, the versions."""
    parser.add_argument("plugin", help="the plugin executable")
    parser.add_argument(
        "args", nargs="*", help="arguments for the plugin (after -- if they start with a dash)"
    )
    parser.add_argument(
        "--cookie",
        type=cookie,
        required=True,
        metavar="KEY=VALUE",
        help="the magic cookie of the plugin's HandshakeConfig",
    )
    parser.add_argument(
        "--version",
        type=int,
        action="append",
        dest="versions",
        metavar="N",
        help="an app protocol version to offer (repeatable; default 1)",
    )
