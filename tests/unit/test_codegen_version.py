"""Generated modules say which generated-code contract they were written for, and goplugin
refuses, at import, one it does not run, with a message that says how to regenerate.

The contract is an integer, ``goplugin._genruntime.CODEGEN_API``, bumped when what generated
code expects of the runtime changes (not goplugin's version): a runtime runs modules of
``OLDEST_CODEGEN_API`` up to ``CODEGEN_API``. Checked both ways with real generated code:
modules older and newer than this runtime, and this runtime older and newer than its modules.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from goplugin import _genruntime
from goplugin.codegen import Job, run_job
from goplugin.errors import PluginError

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "cgversion_gen"
PROTO = """
syntax = "proto3";
package cgversion;
message Ping { string s = 1; }
service Versioned { rpc Echo(Ping) returns (Ping); }
"""
# What every module generated before the contract had a number imported (kv_goplugin.py of
# that time): the names a newer runtime no longer offers.
LEGACY_IMPORTS = """\
from goplugin._genruntime import (
    is_aio_channel,
    is_aio_server,
    plugin_error,
    register_servicer,
)
"""
_API_LINE = re.compile(r"^GOPLUGIN_CODEGEN_API = \d+$", re.MULTILINE)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("cgversion")
    (root / "proto").mkdir()
    (root / "proto" / "versioned.proto").write_text(PROTO)
    run_job(Job(root=root / "proto", python_out=root / "py" / PACKAGE))
    sys.path.insert(0, str(root / "py"))
    yield root / "py" / PACKAGE
    sys.path.remove(str(root / "py"))
    for name in [m for m in sys.modules if m.startswith(PACKAGE)]:
        del sys.modules[name]


def import_variant(package: Path, name: str, edit: str | None = None) -> ModuleType:
    """Import a copy of the generated glue, its contract line replaced by ``edit``."""
    text = (package / "versioned_goplugin.py").read_text()
    assert len(_API_LINE.findall(text)) == 1, "the generated module declares its contract once"
    if edit is not None:
        text = _API_LINE.sub(edit, text)
    (package / f"{name}.py").write_text(text)
    return importlib.import_module(f"{PACKAGE}.{name}")


def refusal(package: Path, name: str, edit: str | None = None) -> str:
    with pytest.raises(ImportError) as info:
        import_variant(package, name, edit)
    assert isinstance(info.value, PluginError)
    message = str(info.value)
    assert f"{PACKAGE}.{name}" in message  # which module
    assert "python -m goplugin.codegen" in message  # how to regenerate
    return message


def test_generated_modules_carry_the_contract_they_were_written_for(package: Path) -> None:
    module = import_variant(package, "as_generated")
    assert module.GOPLUGIN_CODEGEN_API == _genruntime.CODEGEN_API
    committed = [*REPO.glob("examples-py/gen/**/*_goplugin.py")]
    committed += REPO.glob("examples-py/gen_bp2/**/*_goplugin_bp2.py")
    assert committed
    for path in committed:
        lines = _API_LINE.findall(path.read_text())
        assert lines == [f"GOPLUGIN_CODEGEN_API = {_genruntime.CODEGEN_API}"], path


def test_a_module_older_than_the_runtime_runs_is_refused(package: Path) -> None:
    old = _genruntime.OLDEST_CODEGEN_API - 1
    message = refusal(package, "older", f"GOPLUGIN_CODEGEN_API = {old}")
    assert "regenerate" in message


def test_a_module_newer_than_the_runtime_runs_is_refused(package: Path) -> None:
    new = _genruntime.CODEGEN_API + 1
    message = refusal(package, "newer", f"GOPLUGIN_CODEGEN_API = {new}")
    assert "upgrade goplugin" in message and "regenerate" in message


def test_a_module_generated_before_the_contract_had_a_number_is_refused(package: Path) -> None:
    (package / "unnumbered.py").write_text(LEGACY_IMPORTS)
    with pytest.raises(ImportError) as info:
        importlib.import_module(f"{PACKAGE}.unnumbered")
    assert isinstance(info.value, PluginError)
    message = str(info.value)
    assert f"{PACKAGE}.unnumbered" in message
    assert "regenerate" in message and "python -m goplugin.codegen" in message


def test_a_runtime_that_moved_on_refuses_todays_modules(
    package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This runtime, later: it dropped the contract today's modules were written for."""
    monkeypatch.setattr(_genruntime, "CODEGEN_API", _genruntime.CODEGEN_API + 1)
    monkeypatch.setattr(_genruntime, "OLDEST_CODEGEN_API", _genruntime.CODEGEN_API)
    assert "regenerate" in refusal(package, "runtime_moved_on")


def test_an_older_runtime_refuses_todays_modules(
    package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This runtime, earlier: today's modules need a contract it does not know yet."""
    monkeypatch.setattr(_genruntime, "CODEGEN_API", _genruntime.CODEGEN_API - 1)
    monkeypatch.setattr(_genruntime, "OLDEST_CODEGEN_API", _genruntime.CODEGEN_API)
    assert "upgrade goplugin" in refusal(package, "runtime_older")


def test_the_runtime_runs_every_contract_in_its_range(package: Path) -> None:
    for version in range(_genruntime.OLDEST_CODEGEN_API, _genruntime.CODEGEN_API + 1):
        module = import_variant(package, f"in_range_{version}", f"GOPLUGIN_CODEGEN_API = {version}")
        assert version == module.GOPLUGIN_CODEGEN_API
