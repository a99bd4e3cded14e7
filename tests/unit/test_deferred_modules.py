"""goplugin._deferred: grpc.aio and protobuf's python_message deferred until first use, then
the real module, once.

Each case runs in a fresh interpreter (this one has imported grpc long ago): what matters is
the import order of a real process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import EXAMPLES_PY


def _run(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(EXAMPLES_PY), os.environ.get("PYTHONPATH", "")]),
            **env,
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_goplugin_first_defers_grpc_aio_until_a_name_is_used() -> None:
    out = _run(
        """
        import sys, types
        import goplugin
        import grpc
        import grpc.aio  # binds the stand-in; runs nothing
        from goplugin._genruntime import _is_aio_server as is_aio_server, is_aio_channel

        stand_in = sys.modules["grpc.aio"]
        assert grpc.aio is stand_in and "__builtins__" not in vars(stand_in)
        assert not [m for m in sys.modules if m.startswith("grpc.aio.")]
        channel = grpc.insecure_channel("unix:/nonexistent")
        assert not is_aio_channel(channel) and not is_aio_server(object())
        assert "__builtins__" not in vars(stand_in)  # the checks did not run it either

        from grpc.aio import Channel, server  # first use: runs the real module, in place
        assert sys.modules["grpc.aio"] is stand_in and type(stand_in) is types.ModuleType
        assert grpc.aio.Channel is Channel and "grpc.aio._channel" in sys.modules
        assert "insecure_channel" in dir(grpc.aio)
        assert not is_aio_channel(channel)
        print("ok")
        """
    )
    assert out == "ok\n"


def test_the_real_module_runs_once_when_threads_race_to_use_it() -> None:
    out = _run(
        """
        import sys, threading
        import goplugin
        import grpc

        runs = []
        loader = sys.modules["grpc.aio"].__spec__.loader
        real_exec = loader.exec_module
        def counting_exec(module):
            runs.append(threading.get_ident())
            real_exec(module)
        loader.exec_module = counting_exec

        start = threading.Barrier(8)
        got = []
        def use():
            start.wait()
            got.append((grpc.aio.server, grpc.aio.Channel, grpc.aio.insecure_channel))
        threads = [threading.Thread(target=use) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(runs) == 1, runs
        assert len(got) == 8 and len(set(got)) == 1, got
        print("ok")
        """
    )
    assert out == "ok\n"


def test_star_import_and_asyncio_use_see_the_whole_module() -> None:
    out = _run(
        """
        import asyncio
        import goplugin
        import grpc
        from grpc.aio import *  # noqa

        async def main():
            server = grpc.aio.server()
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            async with insecure_channel(f"127.0.0.1:{port}") as channel:
                from goplugin._genruntime import _is_aio_server as is_aio_server, is_aio_channel
                assert is_aio_channel(channel) and is_aio_server(server)
            await server.stop(None)
        asyncio.run(main())
        print("ok")
        """
    )
    assert out == "ok\n"


@pytest.mark.parametrize("first", ["grpc", "grpc.aio"])
def test_grpc_imported_first_is_left_alone(first: str) -> None:
    out = _run(
        f"""
        import sys, types
        import {first}
        import goplugin
        import grpc
        from goplugin._genruntime import _is_aio_server as is_aio_server
        assert type(sys.modules["grpc.aio"]) is types.ModuleType
        assert is_aio_server(grpc.aio.server())
        print("ok")
        """
    )
    assert out == "ok\n"


def test_protobuf_messages_work_without_the_pure_python_backend_running() -> None:
    out = _run(
        """
        import sys
        from gen.kv import kv_goplugin, kv_pb2
        from gen.streaming import streaming_pb2
        from google.protobuf import any_pb2, descriptor_pool
        from google.protobuf.internal import api_implementation

        event = streaming_pb2.Event(seq=7, text="x", labels={"a": "b"})
        event.time.GetCurrentTime()
        packed = any_pb2.Any()
        packed.Pack(event)
        back = streaming_pb2.Event()
        assert packed.Unpack(back) and back == event and "seq: 7" in str(back)
        assert kv_pb2.GetResponse.FromString(b"\\n\\x01v").value == b"v"
        stand_in = sys.modules["google.protobuf.internal.python_message"]
        assert api_implementation.Type() == "upb"
        assert "__builtins__" not in vars(stand_in)
        assert "google.protobuf.text_format" not in sys.modules
        print("ok")
        """
    )
    assert out == "ok\n"


def test_the_pure_python_backend_runs_it_on_first_use() -> None:
    out = _run(
        """
        import sys
        import goplugin
        stand_in = sys.modules["google.protobuf.internal.python_message"]
        from gen.streaming import streaming_pb2
        from google.protobuf.internal import api_implementation

        event = streaming_pb2.Event(seq=7, text="x")
        assert streaming_pb2.Event.FromString(event.SerializeToString()) == event
        assert api_implementation.Type() == "python"
        assert sys.modules["google.protobuf.internal.python_message"] is stand_in
        assert "__builtins__" in vars(stand_in)
        print("ok")
        """,
        PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python",
    )
    assert out == "ok\n"
