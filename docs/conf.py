"""Sphinx configuration of goplugin's documentation (`nox -s docs`; see README.md here)."""

from __future__ import annotations

import re

import goplugin

project = "goplugin"
release = version = goplugin.__version__
extensions = [
    "myst_parser",  # pages in Markdown, like the README they grew out of
    "sphinx.ext.autodoc",  # the API reference from the docstrings
    "sphinxcontrib.mermaid",  # ```mermaid diagrams (the lifecycle)
]
myst_enable_extensions = ["colon_fence"]
myst_fence_as_directive = ["mermaid"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "README.md"]
html_theme = "furo"
html_title = f"goplugin {release}"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
suppress_warnings = ["ref.python"]  # gob's Field.type and Typed.type share a name

# Strict: `nox -s docs` runs with -W -n, so a broken cross-reference fails the build. Names
# outside goplugin's public API cannot resolve without intersphinx (which would need the
# network): the standard library, grpc, protobuf, cryptography, and goplugin's private modules
# that annotations name.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(grpc|google|cryptography|typing_extensions|betterproto2)(\..*)?"),
    (r"py:.*", r"goplugin\.internal\..*"),  # go-plugin's own protos, generated
    (r"py:.*", r"goplugin\.(\w+\.)*_\w+(\..*)?"),
    (r"py:.*", r"(os|io|logging|typing|collections|asyncio|concurrent|types|enum)(\..*)?"),
    (r"py:.*", r"(socket|ssl|hashlib|subprocess|pathlib)(\..*)?"),
    (r"py:.*", r"(Any|IO|Callable|Iterable|Iterator|Mapping|Sequence|Self|TracebackType|Buffer)"),
    (r"py:.*", r"(AsyncIterator|Awaitable|Coroutine|PathLike|Logger|Path|Future|Channel)"),
    # Private names that annotations use unqualified (imported for type checking only).
    (r"py:.*", r"(T|F|Stream|Session|Dispatcher|TLSPair|GRPCMuxer|ConnectionErrorTranslator)"),
    (r"py:.*", r"(FieldSpec|NEED_DATA|GobError|GobEncodeError|SessionJudge)"),
    (r"py:.*", r"(goplugin\.plugin\.)?(T|T_co|ClientT_co|AsyncClientT_co)"),  # type variables
    (r"py:.*", r"(Services|Server|CallFuture|AsyncGRPCBroker|ServeTestConfig|Command)"),
]


def _google_args(
    app: object, what: str, name: str, obj: object, options: object, lines: list[str]
) -> None:
    """Turn an ``Args:`` section into ``:param name:`` fields.

    The entry points' docstrings use Google-style ``Args:`` because they read well in
    ``help()``; napoleon would do this too, but also reads every attribute docstring that
    starts "Word: ..." as "type: description", which ours are not.
    """
    try:
        start = lines.index("Args:")
    except ValueError:
        return
    out = lines[:start]
    name_re = re.compile(r"^    (\w+): ?(.*)$")
    for line in lines[start + 1 :]:
        entry = name_re.match(line)
        if entry:
            out.append(f":param {entry.group(1)}: {entry.group(2)}")
        elif line.startswith("        ") or not line.strip():
            out.append("   " + line.strip() if line.strip() else "")
        else:  # the section ended
            out.append(line)
    lines[:] = out


def setup(app: object) -> None:
    app.connect("autodoc-process-docstring", _google_args)  # type: ignore[attr-defined]
