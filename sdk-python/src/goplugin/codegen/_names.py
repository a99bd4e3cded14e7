"""Identifier rules: proto names to Python snake_case and to the Go names protoc-gen-go picks.

The Go rules must match protoc-gen-go and protoc-gen-go-grpc exactly, because our glue refers
to the types and functions they generate; they follow protobuf-go's documented GoCamelCase and
GoSanitized behaviour.
"""

from __future__ import annotations

import keyword
import re

__all__ = [
    "betterproto2_class_name",
    "go_camel_case",
    "go_package_name",
    "go_sanitized",
    "python_identifier",
    "snake_case",
]

_GO_KEYWORDS = frozenset(
    [
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "fallthrough",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "type",
        "var",
    ]
)

# A word boundary inside CamelCase: "HTTPServer" -> "HTTP_Server", "getX2" -> "get_X2".
_ACRONYM_END = re.compile(r"([A-Z]+)([A-Z][a-z])")
_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    """``GetHTTPStatus`` -> ``get_http_status``; already-snake names pass through."""
    name = _ACRONYM_END.sub(r"\1_\2", name)
    name = _LOWER_UPPER.sub(r"\1_\2", name)
    return re.sub(r"_+", "_", name).lower()


def python_identifier(name: str) -> str:
    """A name usable as a Python attribute: keywords get a trailing underscore (PEP 8)."""
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return name + "_"
    return name


def go_camel_case(name: str) -> str:
    """protobuf-go's GoCamelCase: the Go name of a proto message, enum, service or method.

    Words start at ``_`` or an upper-case letter and are capitalised; ``.`` (nesting) becomes
    ``_`` unless a lower-case letter follows; a leading ``_`` becomes ``X``; digits stand alone.
    """
    out: list[str] = []
    i = 0
    n = len(name)
    while i < n:
        c = name[i]
        nxt = name[i + 1] if i + 1 < n else ""
        if c == "." and nxt.islower() and nxt.isascii():
            pass
        elif c == ".":
            out.append("_")
        elif c == "_" and (i == 0 or name[i - 1] == "."):
            out.append("X")
        elif c == "_" and nxt.islower() and nxt.isascii():
            pass
        elif c.isascii() and c.isdigit():
            out.append(c)
        else:
            out.append(c.upper() if c.isascii() and c.islower() else c)
            while i + 1 < n and name[i + 1].isascii() and name[i + 1].islower():
                i += 1
                out.append(name[i])
        i += 1
    return "".join(out)


def go_sanitized(name: str) -> str:
    """protobuf-go's GoSanitized: any string made into a valid Go identifier."""
    cleaned = "".join(c if c.isalnum() else "_" for c in name)
    if cleaned in _GO_KEYWORDS or not cleaned[:1].isalpha():
        return "_" + cleaned
    return cleaned


def go_package_name(import_path: str) -> str:
    """The default package name of a Go import path: its sanitised last element."""
    return go_sanitized(import_path.rstrip("/").rsplit("/", 1)[-1])


def betterproto2_class_name(local_name: str) -> str:
    """The Python class betterproto2-compiler 0.10 generates for a message or enum named
    ``local_name`` in its package (``Event.Metric`` -> ``EventMetric``, ``KV`` -> ``Kv``).

    Our betterproto2 glue refers to those classes, so this must match the compiler exactly
    (tests/unit/test_codegen_bp2.py checks it against the compiler's own function): every
    character that is not an ASCII letter or digit separates words and is dropped; a word is
    an upper-case run that no lower-case letter follows, or else optional capitals then
    lower-case letters, each with trailing digits; each word is capitalised (first letter up,
    the rest down), so acronyms lose their capitals.
    """
    words: list[str] = []
    i, n = 0, len(local_name)
    while i < n:
        c = local_name[i]
        if not (c.isascii() and c.isalnum()):
            i += 1
            continue
        j = i
        while j < n and "A" <= local_name[j] <= "Z":
            j += 1
        if j > i and j < n and "a" <= local_name[j] <= "z":
            # Capitals then lower case: the last capital starts the next word ("HTTPServer"
            # is Http + Server), unless it is the only one ("Server" is one word).
            if j - i > 1:
                j -= 1
            else:
                while j < n and "a" <= local_name[j] <= "z":
                    j += 1
        elif j == i:
            while j < n and "a" <= local_name[j] <= "z":
                j += 1
        while j < n and "0" <= local_name[j] <= "9":
            j += 1
        words.append(local_name[i:j].capitalize())
        i = j
    return "".join(words)
