"""``python -m goplugin.codegen``: .proto files in, Python and Go go-plugin code out.

Either name one job on the command line::

    python -m goplugin.codegen proto --python-out gen --go-out ../go/gen

or run every ``[[tool.goplugin.codegen]]`` table of a pyproject.toml (keys are the long option
names below; paths are relative to that file)::

    python -m goplugin.codegen --config pyproject.toml [--check]

``--python-messages betterproto2`` (``python-messages = "betterproto2"``) writes betterproto2
dataclasses and ``<file>_goplugin_bp2.py`` glue over them instead of protoc's classes: an
opt-in flavour for its own output folder.

``--check`` writes nothing and exits 1 when a generated file is missing, differs or is stale.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from ._driver import CodegenError, Job, run_job
from ._pynames import FLAVOURS

_LIST_KEYS = ("include", "exclude", "proto-path", "go-opt")
_PATH_KEYS = ("root", "python-out", "go-out", "go-tools-module")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m goplugin.codegen",
        description="Generate go-plugin Python and Go code from .proto files.",
    )
    parser.add_argument("root", nargs="?", type=Path, help="import root of the .proto files")
    parser.add_argument("include", nargs="*", help="files/folders under root (default: all)")
    parser.add_argument("--config", type=Path, help="run the [[tool.goplugin.codegen]] jobs")
    parser.add_argument("--python-out", type=Path, help="Python package folder to write")
    parser.add_argument("--go-out", type=Path, help="Go output folder (see --go-opt)")
    parser.add_argument("--exclude", action="append", default=[], help="skip under root")
    parser.add_argument("-I", "--proto-path", action="append", type=Path, default=[])
    parser.add_argument("--go-opt", action="append", help="default: paths=source_relative")
    parser.add_argument("--protoc-gen-go", help="path of protoc-gen-go (default: PATH)")
    parser.add_argument("--protoc-gen-go-grpc", help="path of protoc-gen-go-grpc")
    parser.add_argument("--go-tools-module", type=Path, help="build both from this Go module")
    parser.add_argument("--strip-prefix", default="", help="folder dropped from Python paths")
    parser.add_argument("--messages-only", action="store_true", help="no goplugin glue")
    parser.add_argument(
        "--python-messages",
        choices=FLAVOURS,
        default="protobuf",
        help="message classes: protoc's (default) or betterproto2 dataclasses (opt-in: needs "
        "goplugin[codegen-betterproto2]; glue becomes <file>_goplugin_bp2.py)",
    )
    parser.add_argument("--prune", action="store_true", help="delete stale generated files")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    return parser


def _job_from_args(args: argparse.Namespace) -> Job:
    return Job(
        root=args.root,
        python_out=args.python_out,
        go_out=args.go_out,
        include=args.include,
        exclude=args.exclude,
        proto_path=args.proto_path,
        strip_prefix=args.strip_prefix,
        messages_only=args.messages_only,
        python_messages=args.python_messages,
        go_opts=args.go_opt or ("paths=source_relative",),
        protoc_gen_go=args.protoc_gen_go,
        protoc_gen_go_grpc=args.protoc_gen_go_grpc,
        go_tools_module=args.go_tools_module,
        prune=args.prune,
    )


def _job_from_table(table: dict[str, Any], base: Path) -> Job:
    known = {f.replace("_", "-") for f in Job.__dataclass_fields__} | {"go-opt"}
    unknown = set(table) - known - {"go-opts"}
    if unknown:
        raise CodegenError(f"unknown key(s) in [[tool.goplugin.codegen]]: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in _PATH_KEYS:
            value = base / value
        elif key == "proto-path":
            value = [base / v for v in value]
        elif key in _LIST_KEYS and isinstance(value, str):
            value = [value]
        values["go_opts" if key == "go-opt" else key.replace("-", "_")] = value
    if "root" not in values:
        raise CodegenError("each [[tool.goplugin.codegen]] needs a root")
    return Job(**values)


def _jobs_from_config(path: Path) -> list[Job]:
    try:
        tomllib = importlib.import_module("tomllib")
    except ModuleNotFoundError:  # Python 3.10: its backport, which goplugin[codegen] installs
        try:
            tomllib = importlib.import_module("tomli")
        except ModuleNotFoundError:
            raise CodegenError(
                "--config needs tomli before Python 3.11: pip install 'goplugin[codegen]'"
            )
    data = tomllib.loads(path.read_text())
    tables = data.get("tool", {}).get("goplugin", {}).get("codegen", [])
    if not tables:
        raise CodegenError(f"{path} has no [[tool.goplugin.codegen]] tables")
    return [_job_from_table(table, path.resolve().parent) for table in tables]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.config is not None:
            jobs = _jobs_from_config(args.config)
        elif args.root is not None:
            jobs = [_job_from_args(args)]
        else:
            _parser().error("give a proto root or --config")
        problems = [p for job in jobs for p in run_job(job, check=args.check)]
    except CodegenError as exc:
        print(f"goplugin.codegen: {exc}", file=sys.stderr)
        return 2
    for problem in problems:
        print(("stale: " if args.check else "updated: ") + problem)
    return 1 if args.check and problems else 0


if __name__ == "__main__":
    sys.exit(main())
