"""The soak: goplugin under thousands of launches, kills, calls, streams and deadlines.

``nox -s soak`` (``-- --quick`` for about two minutes, ``-- --phases cycles,deadlines`` for
some phases, ``-- --scale 0.5`` for half the counts) runs the phases of :mod:`soak.phases`
against the fault plugins (examples-go/testprogs/faultplugin, tests/plugins/fault_plugin.py)
and go-plugin's own protocol, prints one table and writes docs/reliability.md: the figures,
the date, the machine and its load during the run, and what the issue asked of each figure.

Every phase also accounts for what the host process holds before and after it (fds, threads,
child processes, temp files, RSS: tests/leaks.py), in a TMPDIR of its own. The tests in
tests/interop/test_soak.py run every phase at a few cycles, so CI runs this very code.
"""
