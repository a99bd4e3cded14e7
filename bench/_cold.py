"""Cold starts without root: drop the files a start reads from the page cache, per file.

``posix_fadvise(POSIX_FADV_DONTNEED)`` asks the kernel to drop a file's clean cached pages;
any user may do it for files they can open, and it touches nothing else. It cannot drop pages
some running process has mapped (a host's own interpreter and grpc extension, or any other
Python on the machine using the same files): those stay warm, which is why bench/README.md
calls this cold "as far as possible without root", not a dropped page cache.
"""

from __future__ import annotations

import ctypes
import functools
import json
import math
import mmap
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterable
from pathlib import Path

__all__ = ["evict", "fresh_copy", "probe_python_files", "resident_fraction"]


def _evict_file(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    except OSError:
        pass
    finally:
        os.close(fd)


def evict(paths: Iterable[Path]) -> int:
    """Drop every regular file under ``paths`` from the page cache; returns how many."""
    count = 0
    for path in paths:
        if path.is_file():
            _evict_file(str(path))
            count += 1
            continue
        for folder, _, files in os.walk(path):
            for name in files:
                _evict_file(os.path.join(folder, name))
                count += 1
    return count


def probe_python_files(python: str, script: Path, env: dict[str, str], cwd: Path) -> list[Path]:
    """The files a Python plugin's start reads (bench/_probe.py), found by loading it once."""
    out = subprocess.run(
        [python, "-m", "bench._probe", str(script)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    paths = [Path(p) for p in json.loads(out)]
    paths.append(Path(os.path.realpath(python)))
    return [p for p in dict.fromkeys(paths) if p.is_file()]


def resident_fraction(paths: Iterable[Path]) -> float:
    """Share of the files' pages in the page cache (mincore), to say how cold "cold" was."""
    total = resident = 0
    for path in paths:
        got = _resident_pages(str(path))
        if got is not None:
            resident += got[0]
            total += got[1]
    return resident / total if total else math.nan


def _resident_pages(path: str) -> tuple[int, int] | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return None
        page = mmap.PAGESIZE
        pages = (size + page - 1) // page
        libc = _libc()
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_long,
        ]
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            return None
        try:
            vec = (ctypes.c_ubyte * pages)()
            if libc.mincore(ctypes.c_void_p(addr), ctypes.c_size_t(size), vec) != 0:
                return None
            return sum(b & 1 for b in vec), pages
        finally:
            libc.munmap(ctypes.c_void_p(addr), ctypes.c_size_t(size))
    finally:
        os.close(fd)


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def fresh_copy(binary: Path, folder: Path) -> Path:
    """A just-built binary as a first run sees it: a new file, written out, not cached."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{binary.name}-{uuid.uuid4().hex[:8]}"
    shutil.copy2(binary, target)
    with open(target, "rb") as f:
        os.fsync(f.fileno())  # dirty pages cannot be dropped; written-back ones can
    evict([target])
    return target
