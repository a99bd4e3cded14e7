"""Shared test vectors: Python and Go decode each other's bytes to equal messages and encode the
same messages to the same bytes (tests/vectors/cases.json, golden.json).

Go's side is examples-go/testprogs/vectors, built from the generated Go types; Python's is the
generated message classes; both serialise deterministically. Two differences are by design of
the libraries, not bugs of ours, and the cases they touch say so (``encodings_differ``) and keep
one golden encoding per language: protobuf-go writes a set oneof field after all other fields,
and the deterministic map orders differ (upb: integer keys descending, an empty string key
last; Go: ascending). Decoding must agree regardless, and each side re-encodes the other's
bytes to exactly its own encoding.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _contracts import VECTORS  # also registers the generated types by name
from gobuild import go_program
from google.protobuf import descriptor_pool, json_format, message, message_factory

pytestmark = pytest.mark.interop

CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["cases"]
GOLDEN: dict[str, Any] = json.loads((VECTORS.parent / "golden.json").read_text())


def _parse(case: dict[str, Any]) -> message.Message:
    descriptor = descriptor_pool.Default().FindMessageTypeByName(case["type"])
    return json_format.ParseDict(case["json"], message_factory.GetMessageClass(descriptor)())


def _python_hex(case: dict[str, Any]) -> str:
    return _parse(case).SerializeToString(deterministic=True).hex()


def _golden(case: dict[str, Any], language: str) -> str:
    entry = GOLDEN[case["name"]]
    if case.get("encodings_differ"):
        assert isinstance(entry, dict), f"{case['name']}: golden needs a go and a python entry"
        return str(entry[language])
    assert isinstance(entry, str), f"{case['name']}: Go and Python agree; golden is one hex"
    return entry


@pytest.fixture(scope="module")
def go_hex() -> dict[str, str]:
    out = subprocess.run(
        [str(go_program("./testprogs/vectors")), "encode", str(VECTORS)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, str] = json.loads(out.stdout)
    return result


def test_every_case_has_golden_bytes() -> None:
    missing = {c["name"]: _python_hex(c) for c in CASES if c["name"] not in GOLDEN}
    assert not missing, f"add to tests/vectors/golden.json once Go agrees: {missing}"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_encodings_match_golden(case: dict[str, Any], go_hex: dict[str, str]) -> None:
    assert _python_hex(case) == _golden(case, "python")
    assert go_hex[case["name"]] == _golden(case, "go")
    if not case.get("encodings_differ"):
        assert _python_hex(case) == go_hex[case["name"]]


def test_go_decodes_python_bytes(go_hex: dict[str, str], tmp_path: Path) -> None:
    hexes = tmp_path / "python.json"
    hexes.write_text(json.dumps({c["name"]: _python_hex(c) for c in CASES}))
    out = subprocess.run(
        [str(go_program("./testprogs/vectors")), "decode", str(VECTORS), str(hexes)],
        capture_output=True,
        text=True,
        check=True,
    )
    decoded = json.loads(out.stdout)
    for case in CASES:
        name = case["name"]
        assert decoded[name] == {"equal": True, "hex": go_hex[name]}, name


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_python_decodes_go_bytes(case: dict[str, Any], go_hex: dict[str, str]) -> None:
    expected = _parse(case)
    decoded = type(expected).FromString(bytes.fromhex(go_hex[case["name"]]))
    assert decoded == expected
    assert decoded.SerializeToString(deterministic=True).hex() == _python_hex(case)
