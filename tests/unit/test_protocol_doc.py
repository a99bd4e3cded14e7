"""docs/protocol.md cannot rot: every rule in it names a test, and every test it names exists.

The page writes each reference as ``[test](relative/path.py)::test_function`` (or
``::Class::method``). This test reads the page and checks that each path exists and holds that
function, that every rule (a list item or a table row outside the sections marked
"informative") carries at least one reference, and that links to the page's own headings
resolve.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
REFERENCE = re.compile(r"\[test\]\(([^)\s]+)\)::((?:[A-Za-z_]\w*::)?[A-Za-z_]\w*)")
ANY_TEST_LINK = re.compile(r"\[test\]\(([^)\s]*)\)")
ANCHOR = re.compile(r"\]\(#([^)\s]+)\)")


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _prose_lines() -> list[tuple[int, str, str]]:
    """(line number, section heading, line) outside fenced code blocks."""
    out, heading, fenced = [], "", False
    for number, line in enumerate(_text().splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        out.append((number, heading, line))
    return out


def _defined(path: Path) -> set[str]:
    """Test functions of a module: ``name`` and ``Class::name``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            )
    return names


def _references() -> list[tuple[str, str]]:
    return REFERENCE.findall(_text())


def test_the_page_references_tests() -> None:
    assert len(_references()) > 100


@pytest.mark.parametrize(("target", "name"), sorted(set(_references())))
def test_every_reference_names_an_existing_test(target: str, name: str) -> None:
    path = (DOC.parent / target).resolve()
    assert path.is_file(), f"{target} does not exist"
    assert path.name.startswith("test_") and path.suffix == ".py", target
    assert name.rsplit("::", 1)[-1].startswith("test_"), name
    assert name in _defined(path), f"{target} has no {name}"


def test_every_test_link_names_its_function() -> None:
    text = _text()
    linked = [m.start() for m in ANY_TEST_LINK.finditer(text)]
    named = [m.start() for m in REFERENCE.finditer(text)]
    assert linked == named, "a [test](...) link without ::test_name after it"


def test_every_rule_names_a_test() -> None:
    """List items (with their continuation lines) and table rows are rules, except in
    sections whose heading says "informative"."""
    items: list[tuple[int, str, list[str]]] = []
    for number, heading, line in _prose_lines():
        stripped = line.strip()
        starts_item = re.match(r"(-|\*|\d+\.) ", line) is not None
        table_row = stripped.startswith("|") and not re.fullmatch(r"\|[-| :]+\|", stripped)
        if starts_item or table_row:
            items.append((number, heading, [line]))
        elif items and items[-1][2] and stripped and line.startswith("  "):
            items[-1][2].append(line)  # a list item's continuation
        elif not stripped:
            items.append((number, heading, []))  # a blank line ends the item
    missing = []
    for number, heading, lines in items:
        if not lines or "informative" in heading.lower():
            continue
        text = " ".join(lines)
        if text.lstrip().startswith("| Variable") or text.lstrip().startswith("| Service"):
            continue  # a table's header row
        if not REFERENCE.search(text):
            missing.append(f"line {number}: {lines[0].strip()[:80]}")
    assert not missing, "rules without a test:\n" + "\n".join(missing)


def _slug(heading: str) -> str:
    # GitHub's and MyST's anchors: lower case, punctuation dropped, spaces to hyphens.
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_links_to_headings_resolve() -> None:
    anchors = {_slug(h) for _, h, line in _prose_lines() if line.startswith("#")}
    broken = sorted(set(ANCHOR.findall(_text())) - anchors)
    assert not broken, broken
