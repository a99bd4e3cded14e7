"""goplugin.testing's host side: plugins launched, or served in this process, then connected,
dispensed and stopped when the test is done.

Source of truth for both flavours (``_sync/testkit.py`` is generated). Everything hands out
the objects a real host gets: :class:`~goplugin.aio.PluginClient` and what its
``dispense()`` returns, with the broker and the typed errors, so a test exercises exactly what
production code runs.

An in-process pair serves the plugin with the real ``serve()`` in test mode
(:class:`~goplugin._plugin.testmode.ServeTestConfig`, go-plugin's ``ServeConfig.Test``) and attaches
a real host to it (``PluginClient(reattach=...)``, as go-plugin's test mode does). The two
talk over a unix socket in a private 0700 directory, the socket a plugin process would use:
grpcio can serve only addresses it binds itself (it takes no socketpair or file descriptor),
and this way the bytes, the framing and the internal services are those of production.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from .._backends.aio import start_task, wait_future
from .._plugin.testmode import ServeTestConfig
from ..errors import PluginError, StartTimeoutError
from ..testing._common import in_process_environ, python_command, python_environment
from .client import PluginClient
from .server import serve

if TYPE_CHECKING:
    from .._protocol.handshake import HandshakeConfig

__all__ = ["PluginHost", "launch", "launch_python", "serve_in_process"]

#: How long an in-process plugin gets to stop once its test is done.
_STOP_TIMEOUT = 10.0

Command = Sequence[str | os.PathLike[str]] | str | os.PathLike[str]


@asynccontextmanager
async def launch(
    cmd: Command,
    *,
    handshake: HandshakeConfig,
    plugins: Mapping[str, Any] | None = None,
    versioned_plugins: Mapping[int, Mapping[str, Any]] | None = None,
    dispense: str | None = None,
    **options: Any,
) -> AsyncIterator[Any]:
    """Launch a plugin process and yield its started client, or the plugin ``dispense`` names.

    ``options`` are :class:`~goplugin.aio.PluginClient`'s (``env``, ``cwd``, ``auto_mtls``...).
    The plugin is killed on exit, the go-plugin way (Shutdown, grace, SIGKILL).
    """
    async with PluginClient(
        cmd,
        handshake=handshake,
        plugins=plugins,
        versioned_plugins=versioned_plugins,
        **options,
    ) as client:
        yield (await client.dispense(dispense)) if dispense is not None else client


@asynccontextmanager
async def launch_python(
    target: str | os.PathLike[str],
    *args: str,
    handshake: HandshakeConfig,
    plugins: Mapping[str, Any] | None = None,
    versioned_plugins: Mapping[int, Mapping[str, Any]] | None = None,
    dispense: str | None = None,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> AsyncIterator[Any]:
    """:func:`launch` for a Python plugin: ``target`` is a script or a module name, run by this
    interpreter with this process's ``sys.path`` (so it imports what the test imports)."""
    async with launch(
        python_command(target, *args),
        handshake=handshake,
        plugins=plugins,
        versioned_plugins=versioned_plugins,
        dispense=dispense,
        env=python_environment(env),
        **options,
    ) as client:
        yield client


async def _serve_in_background(
    test: ServeTestConfig, finished: Future[None], options: dict[str, Any]
) -> None:
    """Run ``serve()`` in test mode; its outcome goes to ``finished`` (and, if it never served,
    to whoever waits for the reattach config)."""
    try:
        await serve(test=test, configure_logging=False, **options)
    except BaseException as exc:
        test.failed(exc)
        finished.set_exception(exc)
        if not isinstance(exc, Exception):
            raise  # cancellation and interrupts keep going; errors went to the future
        return
    test.failed(PluginError("serve() returned before the plugin served"))
    finished.set_result(None)


@asynccontextmanager
async def serve_in_process(
    plugins: Mapping[str, Any] | None = None,
    *,
    handshake: HandshakeConfig,
    versioned_plugins: Mapping[int, Mapping[str, Any]] | None = None,
    host_plugins: Mapping[str, Any] | None = None,
    host_versioned_plugins: Mapping[int, Mapping[str, Any]] | None = None,
    dispense: str | None = None,
    start_timeout: float = 10.0,
    serve_options: Mapping[str, Any] | None = None,
    **options: Any,
) -> AsyncIterator[Any]:
    """Serve ``plugins`` in this process and yield a host's started client attached to them,
    or the plugin ``dispense`` names: no subprocess, for unit tests of plugin logic.

    The plugin side is ``serve()`` itself (``serve_options`` are its other arguments), in test
    mode; the host side is a :class:`~goplugin.aio.PluginClient` attached to it, so dispensing,
    the broker, net/rpc and errors are those of a real host. The host's plugin objects are
    ``plugins`` unless ``host_plugins`` (or ``host_versioned_plugins``) says otherwise; both sides
    negotiate the version as they would across processes. ``options`` go to the client.
    On exit the client disconnects and the plugin stops; an exception that ended ``serve()``
    is raised here.
    """
    test = ServeTestConfig(
        in_process_environ(
            handshake,
            plugins if host_plugins is None else host_plugins,
            versioned_plugins if host_versioned_plugins is None else host_versioned_plugins,
        )
    )
    finished: Future[None] = Future()
    served = {"handshake": handshake, "plugins": plugins, "versioned_plugins": versioned_plugins}
    start_task(_serve_in_background, test, finished, {**served, **(serve_options or {})})
    try:
        try:
            reattach = await wait_future(test.reattach_config, start_timeout)
        except TimeoutError:
            raise StartTimeoutError(start_timeout) from None
        client = PluginClient(
            handshake=handshake,
            plugins=plugins if host_plugins is None else host_plugins,
            versioned_plugins=(
                versioned_plugins if host_versioned_plugins is None else host_versioned_plugins
            ),
            # Nothing to watch: the plugin is this process. Its errors reach us through
            # ``finished``, not as an exit.
            reattach=dataclasses.replace(reattach, pid=0),
            **options,
        )
        async with client:
            yield (await client.dispense(dispense)) if dispense is not None else client
    except BaseException:
        test.stop()
        try:
            await wait_future(finished, _STOP_TIMEOUT)
        except Exception:
            pass  # the exception in flight says more (serve()'s own failure is the same one)
        raise
    test.stop()
    try:
        await wait_future(finished, _STOP_TIMEOUT)
    except TimeoutError:
        raise PluginError(
            f"the plugin served in this process did not stop within {_STOP_TIMEOUT:g} s"
        ) from None


class PluginHost:
    """A host for tests (the ``goplugin_host`` fixture): its methods start plugins like
    :func:`launch`, :func:`launch_python` and :func:`serve_in_process` do and return what those
    yield; :meth:`aclose` stops every one of them, the latest first."""

    def __init__(self) -> None:
        self._stack = AsyncExitStack()

    async def launch(self, cmd: Command, **options: Any) -> Any:
        """:func:`launch`, stopped by :meth:`aclose`."""
        return await self._stack.enter_async_context(launch(cmd, **options))

    async def launch_python(
        self, target: str | os.PathLike[str], *args: str, **options: Any
    ) -> Any:
        """:func:`launch_python`, stopped by :meth:`aclose`."""
        return await self._stack.enter_async_context(launch_python(target, *args, **options))

    async def serve_in_process(
        self, plugins: Mapping[str, Any] | None = None, **options: Any
    ) -> Any:
        """:func:`serve_in_process`, stopped by :meth:`aclose`."""
        return await self._stack.enter_async_context(serve_in_process(plugins, **options))

    async def aclose(self) -> None:
        """Stop every plugin this host started, the latest first (the fixture does it)."""
        await self._stack.aclose()

    async def __aenter__(self) -> PluginHost:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
