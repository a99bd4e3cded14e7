"""Run a blocking call on a thread and collect what it returned or raised (yamux tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run target in a thread; the list receives its result or exception."""
    box: list[object] = []

    def wrapper() -> None:
        try:
            box.append(target())
        except BaseException as exc:  # handed to the test
            box.append(exc)

    thread = threading.Thread(target=wrapper, daemon=True)
    thread.start()
    return thread, box


def joined(thread: threading.Thread, box: list[object], timeout: float) -> object:
    """The thread's result or exception; ``timeout`` is only reached when something broke."""
    thread.join(timeout)
    assert not thread.is_alive(), "thread did not finish"
    return box[0]
