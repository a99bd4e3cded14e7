"""The README's plugin-author tests run exactly as printed: the ```python blocks marked
``<!-- doc-test: testing-in-process -->`` and ``testing-go-plugin``, in one file, in a pytest of
their own (so goplugin's fixtures come from the installed entry point, as for users)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES_PY
from gobuild import REPO

pytestmark = pytest.mark.interop

NAMES = ("testing-in-process", "testing-go-plugin")


def snippets() -> list[str]:
    readme = (REPO / "README.md").read_text()
    found = []
    for name in NAMES:
        pattern = rf"^<!-- doc-test: {name} -->\n```python\n(.*?)^```$"
        (code,) = re.findall(pattern, readme, re.S | re.M)
        found.append(code)
    return found


def test_the_plugin_authors_test_is_ten_lines() -> None:
    blocks = snippets()
    assert len(blocks) == 2 and len(blocks[0].strip().splitlines()) <= 10, blocks


@pytest.mark.timeout(300)
def test_readme_snippets_pass(tmp_path: Path, go_build_cache: Path) -> None:
    test_file = tmp_path / "test_readme_snippets.py"
    test_file.write_text("\n\n".join(snippets()))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=REPO,  # the snippet names examples-go relative to the repository, as a user would
        capture_output=True,
        text=True,
        timeout=280,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(EXAMPLES_PY), str(REPO / "sdk-python" / "src")]),
            "GOPLUGIN_BUILD_CACHE": str(go_build_cache),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout, result.stdout
