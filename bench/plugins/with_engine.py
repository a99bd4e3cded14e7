"""Run a plugin script on a given serving engine: ``with_engine.py ENGINE SCRIPT [ARGS...]``
(SCRIPT relative to the repository root, or absolute).

For the bench rows that pin an engine on a plugin that takes no engine argument (the
examples-py streaming plugins): GOPLUGIN_ENGINE is what serve() honours over its default.
Start-up rows do not use it (the extra runpy step would be timed); their KV plugins take
``--engine=`` themselves.
"""

from __future__ import annotations

import os
import runpy
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

if __name__ == "__main__":
    engine, script, *args = sys.argv[1:]
    script = os.path.join(ROOT, script)  # relative to the repository (absolute stays)
    os.environ["GOPLUGIN_ENGINE"] = engine
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(script))
    runpy.run_path(script, run_name="__main__")
