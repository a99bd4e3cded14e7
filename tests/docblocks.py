"""The code blocks of Markdown documents, for the tests that run what the README shows.

A fenced block preceded by ``<!-- doc-test: NAME -->`` is run by a test under that name; any
other Python or Go block must say it is a fragment in its first line, where readers see it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"

_BLOCK = re.compile(
    r"(?:<!-- doc-test: (?P<name>[\w-]+) -->\n)?^```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^```$",
    re.S | re.M,
)


@dataclass(frozen=True)
class Block:
    name: str | None
    lang: str
    code: str

    @property
    def is_fragment(self) -> bool:
        first = self.code.split("\n", 1)[0]
        return bool(re.match(r"^(#|//) Fragment\b", first))


def blocks(path: Path = README) -> list[Block]:
    return [
        Block(m.group("name"), m.group("lang"), m.group("code"))
        for m in _BLOCK.finditer(path.read_text())
    ]


def block(name: str, path: Path = README) -> str:
    """The code of the block marked ``name``: exactly what a reader copies."""
    (found,) = [b.code for b in blocks(path) if b.name == name]
    return found
