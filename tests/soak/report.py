"""The soak's table on the terminal, and docs/reliability.md."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gobuild import GO_PLUGIN_VERSION, REPO

from .core import PhaseResult, Scale, leak_text


@dataclass
class Machine:
    cores: int
    load: list[float]  # 1-minute load averages sampled during the run
    platform: str
    python: str
    grpcio: str
    go: str
    commit: str
    engines: str = ""  # what serves the Python plugins' gRPC, per serve() flavour

    @classmethod
    def describe(cls, load: list[float]) -> Machine:
        import grpc

        go = _run(["go", "version"]).removeprefix("go version ")
        commit = _run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        if _run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"]):
            commit += " (with uncommitted changes)"
        from goplugin._engines import ENGINE_ENV, choose_engine

        engines = (
            f"serve() {choose_engine(None, is_async=False)}, "
            f"aio.serve() {choose_engine(None, is_async=True)}"
            + (f" ({ENGINE_ENV}={os.environ[ENGINE_ENV]})" if os.environ.get(ENGINE_ENV) else "")
        )
        return cls(
            engines=engines,
            cores=os.cpu_count() or 0,
            load=load,
            platform=platform.platform(),
            python=platform.python_version(),
            grpcio=grpc.__version__,
            go=go,
            commit=commit,
        )

    def load_text(self) -> str:
        if not self.load:
            return "unknown"
        mean = sum(self.load) / len(self.load)
        return f"{min(self.load):.1f} min, {mean:.1f} mean, {max(self.load):.1f} max"


def _run(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "unknown"


def terminal(results: list[PhaseResult], machine: Machine) -> str:
    lines = []
    for result in results:
        lines.append(f"\n== {result.title} ({result.seconds:.0f} s)")
        for row in result.rows:
            mark = "  " if row.passed else "!!"
            lines.append(f"{mark} {row.case:24} {row.figures}")
        if result.leaks is not None:
            lines.append(f"   {'host, whole phase':24} {leak_text(result.leaks)}")
        lines.extend(f"   note: {note}" for note in result.notes)
    lines.append("\n== Targets (issue 12)")
    for result in results:
        for check in result.checks:
            verdict = "PASS" if check.passed else "MISS"
            lines.append(f"{verdict} [{result.name}] {check.target}: {check.measured}")
    lines.append(
        f"\n{machine.cores} cores, load average {machine.load_text()}; Python {machine.python}, "
        f"grpcio {machine.grpcio}, {machine.go}; engines: {machine.engines}; "
        f"commit {machine.commit}"
    )
    return "\n".join(lines)


def markdown(results: list[PhaseResult], machine: Machine, mode: str, scale: Scale) -> str:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    total = sum(r.seconds for r in results)
    out = [
        "# Reliability: what the soak measured",
        "",
        "Written by `nox -s soak` (tests/soak); do not edit by hand, run it again. Each phase",
        "runs the fault plugins (examples-go/testprogs/faultplugin, tests/plugins) in a TMPDIR of",
        "its own and accounts for what the host process holds before and after it: fds, Python",
        "and OS threads, child processes, temp files, RSS. Timings are of this machine under the",
        "load shown, not benchmarks (`nox -s bench` is).",
        "",
        f"- **Run**: {now}, {mode}, {total / 60:.1f} minutes; commit {machine.commit}",
        f"- **Machine**: {machine.cores} cores, {machine.platform}; 1-minute load average during "
        f"the run: {machine.load_text()}",
        f"- **Versions**: Python {machine.python}, grpcio {machine.grpcio}, {machine.go}, "
        f"go-plugin {GO_PLUGIN_VERSION}; Python plugins' gRPC engine: {machine.engines} "
        "(`GOPLUGIN_ENGINE=grpcio|pure nox -s soak` soaks the other)",
        f"- **Scale**: {_scale_text(scale)}",
        "",
        "## Issue 12's targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
    ]
    for result in results:
        for check in result.checks:
            verdict = "pass" if check.passed else "**MISS**"
            out.append(f"| {check.target} ({result.name}) | {_cell(check.measured)} | {verdict} |")
    for result in results:
        out += ["", f"## {result.title}", "", f"{result.seconds:.0f} s.", ""]
        out += ["| case | figures | |", "|---|---|---|"]
        for row in result.rows:
            out.append(
                f"| {row.case} | {_cell(row.figures)} | {'ok' if row.passed else '**no**'} |"
            )
        if result.leaks is not None:
            out.append(f"| host, whole phase | {_cell(leak_text(result.leaks))} | |")
        out.extend(["", *(f"- {note}" for note in result.notes)] if result.notes else [])
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _scale_text(scale: Scale) -> str:
    low, high = scale.deadline_ms
    return (
        f"{scale.cycles} cycles per kind ({scale.cycle_concurrency} at once), "
        f"{scale.inflight_calls} calls x {scale.inflight_rounds} SIGKILLs per kind, "
        f"{scale.load_seconds:g} s of load with {scale.load_threads} threads/tasks per kind, "
        f"streams up to {scale.stream_limit} (Python limit) and {scale.go_streams} (Go), "
        f"{scale.death_rounds} host SIGKILLs, {scale.deadline_calls} timed-out calls per kind "
        f"({low}-{high} ms, {scale.deadline_concurrency} at once)"
    )


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}", file=sys.stderr)
