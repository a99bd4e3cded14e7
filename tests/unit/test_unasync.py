"""scripts/unasync.py rewrites code, leaves prose alone, and has no rule that never fires.

The sync twins are generated from the asyncio source: a rule applied inside a docstring turns
"await it" into "it", and a rule that matches nothing hides what the twins really differ by.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "sdk-python" / "scripts" / "unasync.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


SOURCE = '''\
async def fetch(client: AsyncClient) -> None:
    """Await the reply (``await client.call()``); see :class:`~goplugin.aio.PluginClient`."""
    # async with keeps the stream open; await it before aclose.
    async with client.stream() as stream:
        await stream.aclose()
    print(f"await {client!r}", "async def")
'''

EXPECTED = '''\
def fetch(client: Client) -> None:
    """Await the reply (``await client.call()``); see :class:`~goplugin.PluginClient`."""
    # async with keeps the stream open; await it before aclose.
    with client.stream() as stream:
        stream.close()
    print(f"await {client!r}", "async def")
'''


def test_code_is_rewritten_and_prose_is_not() -> None:
    assert _script().unasync(SOURCE) == EXPECTED


def test_every_rule_fires_on_the_real_sources() -> None:
    script = _script()
    fired: set[tuple[bool, str]] = set()
    for src, _ in script.targets():
        script.render(src, fired)
    assert script.idle_rules(fired) == []


def test_a_rule_that_never_fires_is_reported() -> None:
    script = _script()
    fired: set[tuple[bool, str]] = set()
    script.unasync("x = 1\n", fired)
    idle = script.idle_rules(fired)
    assert any("async def" in rule for rule in idle), idle
