"""The README's blocks: each is run by a test or says it is a fragment; commands match CI."""

from __future__ import annotations

import re
import shlex

from docblocks import README, REPO, blocks

# Every doc-test name and where it is checked.
CHECKED = {
    "install": "test_install_names_real_extras",
    "python-host": "tests/interop/test_readme.py",
    "python-plugin": "tests/interop/test_readme.py",
    "go-setup": "tests/interop/test_readme.py",
    "testing-in-process": "tests/interop/test_readme_testing.py",
    "testing-go-plugin": "tests/interop/test_readme_testing.py",
    "demo-command": "test_commands_are_nox_sessions",
    "ci-command": "test_ci_runs_exactly_the_readme_command",
}


def test_every_block_is_run_or_marked_as_a_fragment() -> None:
    found = blocks()
    assert found
    names = [b.name for b in found if b.name]
    assert sorted(names) == sorted(CHECKED)
    assert [b for b in found if not b.name and not b.is_fragment] == []


def test_docs_show_programs_only_from_tested_files() -> None:
    # Whole programs reach docs/ through {literalinclude} of examples the tests run; a Python
    # or Go block written into a page must say that it is a fragment.
    pages = sorted((REPO / "docs").rglob("*.md"))
    assert pages
    for page in pages:
        for b in blocks(page):
            if b.lang in ("python", "go"):
                assert b.is_fragment, (page, b.code[:80])


def _block(name: str) -> str:
    (code,) = [b.code for b in blocks() if b.name == name]
    return code


def test_ci_runs_exactly_the_readme_command() -> None:
    command = _block("ci-command").strip()
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    assert command in ci


def test_commands_are_nox_sessions() -> None:
    noxfile = (REPO / "noxfile.py").read_text()
    for name in ("demo-command", "ci-command"):
        args = shlex.split(_block(name).split("&&")[1])
        assert args[:2] == ["nox", "-s"]
        for session in args[2:]:
            assert re.search(rf"^def {session}\(session", noxfile, re.M), session


def test_install_names_real_extras() -> None:
    pyproject = (REPO / "sdk-python" / "pyproject.toml").read_text()
    extras = set(
        re.findall(
            r"^([\w-]+) = \[",
            pyproject.split("[project.optional-dependencies]")[1].split("\n[")[0],
            re.M,
        )
    )
    named = set(re.findall(r"goplugin\[([\w-]+)\]", _block("install")))
    named |= set(re.findall(r"goplugin\[([\w-]+)\]", README.read_text()))
    assert named and named <= extras, named - extras


def test_the_readme_states_the_go_version_the_go_test_checks() -> None:
    assert re.search(r"\*\*Go ≥ 1\.\d+\*\*", README.read_text())


def test_no_stale_paths() -> None:
    for link in re.findall(r"\]\(((?:docs|proto|bench)/[^)#]+)", README.read_text()):
        assert (REPO / link).exists(), link


def test_troubleshooting_has_one_entry_per_error() -> None:
    import goplugin.errors

    page = (REPO / "docs" / "troubleshooting.md").read_text()
    entries = re.findall(r"^## (\w+)$", page, re.M)
    assert sorted(entries) == sorted(goplugin.errors.__all__)
    for entry in page.split("\n## ")[1:]:
        assert "**Means:**" in entry and "**Do:**" in entry, entry[:40]
