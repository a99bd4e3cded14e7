"""The stable clients a Supervisor hands out: one per dispensed name, outliving every restart.

A caller keeps ``kv = supervisor.dispense("kv")`` for the life of the supervisor; each call
``kv.get(...)`` looks up, at call time, the client that the supervisor's current plugin process
dispensed under that name, and calls it. So nothing a caller holds points at a dead process.

Attributes are resolved per call, as paths: ``kv.get.future(req)`` calls ``.get.future`` of the
current client. The per-call cost is a dictionary lookup and a check that the plugin is up;
method proxies are cached on first access, so later accesses are plain attribute hits.

Sync and asyncio proxies differ in shape (a sync call returns the result, an asyncio call an
awaitable that waits for a restart first), so both are written here by hand, like
``_transport/channel.py``'s guarded channels; the Supervisor itself is generated from one source.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Generator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["AsyncSupervisedClient", "SupervisedClient"]


class _SyncSupervisor(Protocol):
    def _target_now(self, name: str) -> Any: ...
    def _await_target(self, name: str, kwargs: dict[str, Any]) -> Any: ...
    def _call_failed(self, name: str, target: Any, exc: Exception) -> BaseException | None: ...


class _AsyncSupervisor(Protocol):
    def _target_now(self, name: str) -> Any: ...
    def _await_target(self, name: str, kwargs: dict[str, Any]) -> Awaitable[Any]: ...
    def _call_failed(self, name: str, target: Any, exc: Exception) -> BaseException | None: ...


def _resolve(target: Any, path: tuple[str, ...]) -> Any:
    for attr in path:
        target = getattr(target, attr)
    return target


class _Node:
    """An attribute path under a dispensed name; attribute access extends the path."""

    __slots__ = ("__dict__", "_name", "_path", "_supervisor")

    def __init__(self, supervisor: Any, name: str, path: tuple[str, ...]) -> None:
        self._supervisor = supervisor
        self._name = name
        self._path = path

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        child = self._child(attr)
        # The next access is a plain attribute hit. Threads may race to store one: each
        # stores an equal stand-in (they resolve the target per call), so either may win.
        self.__dict__[attr] = child
        return child

    def _child(self, attr: str) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        path = ".".join((self._name, *self._path))
        return f"<{type(self).__name__} {path} of {self._supervisor!r}>"


class SupervisedClient(_Node):
    """Stands for the client a Supervisor dispensed under a name, whichever process is current.

    Calls made while the plugin restarts wait for it, or fail at once, as the supervisor was
    told (``wait_for_restart``). A call in flight when the plugin dies raises
    :class:`~goplugin.errors.PluginExitedError`; it is not retried, since it may have run.
    """

    def _child(self, attr: str) -> Any:
        return _SupervisedMethod(self._supervisor, self._name, (*self._path, attr))


class _SupervisedMethod(SupervisedClient):
    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        supervisor: _SyncSupervisor = self._supervisor
        target = supervisor._target_now(self._name)
        if target is None:
            target = supervisor._await_target(self._name, kwargs)
        try:
            return _resolve(target, self._path)(*args, **kwargs)
        except Exception as exc:
            translated = supervisor._call_failed(self._name, target, exc)
            if translated is None:
                raise
            raise translated from exc


class AsyncSupervisedClient(_Node):
    """The asyncio twin of :class:`SupervisedClient`: a call returns an awaitable that waits
    for a restart first (when told to) and then makes the call; ``await`` it for a single
    response, ``async for`` over it for a stream."""

    def _child(self, attr: str) -> Any:
        return _AsyncSupervisedMethod(self._supervisor, self._name, (*self._path, attr))


class _AsyncSupervisedMethod(AsyncSupervisedClient):
    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> _SupervisedCall:
        return _SupervisedCall(self._supervisor, self._name, self._path, args, kwargs)


class _SupervisedCall:
    """One asyncio call through a supervisor: awaitable, async-iterable and a coroutine (so
    ``asyncio.create_task()`` takes it). The underlying call is made on first use; after that,
    other attributes (``cancel()``, ``initial_metadata()``...) are the call's own."""

    __slots__ = (
        "_args",
        "_call",
        "_kwargs",
        "_name",
        "_path",
        "_runner",
        "_supervisor",
        "_target",
    )

    def __init__(
        self,
        supervisor: _AsyncSupervisor,
        name: str,
        path: tuple[str, ...],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self._supervisor = supervisor
        self._name = name
        self._path = path
        self._args = args
        self._kwargs = kwargs
        self._call: Any = None
        self._target: Any = None
        self._runner: Generator[Any, None, Any] | None = None

    async def _started(self) -> Any:
        if self._call is None:
            supervisor = self._supervisor
            target = supervisor._target_now(self._name)
            if target is None:
                target = await supervisor._await_target(self._name, self._kwargs)
            self._target = target
            try:
                self._call = _resolve(target, self._path)(*self._args, **self._kwargs)
            except Exception as exc:
                translated = supervisor._call_failed(self._name, target, exc)
                if translated is None:
                    raise
                raise translated from exc
        return self._call

    async def _result(self) -> Any:
        call = await self._started()
        try:
            return await call
        except Exception as exc:
            translated = self._supervisor._call_failed(self._name, self._target, exc)
            if translated is None:
                raise
            raise translated from exc

    def __await__(self) -> Generator[Any, None, Any]:
        return self._result().__await__()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        call = await self._started()
        try:
            async for message in call:
                yield message
        except Exception as exc:
            translated = self._supervisor._call_failed(self._name, self._target, exc)
            if translated is None:
                raise
            raise translated from exc

    async def read(self) -> Any:
        return await (await self._started()).read()

    async def write(self, request: Any) -> None:
        await (await self._started()).write(request)

    async def done_writing(self) -> None:
        await (await self._started()).done_writing()

    def cancel(self) -> bool:
        return self._call is not None and bool(self._call.cancel())

    def __getattr__(self, attr: str) -> Any:
        if self._call is None:
            raise AttributeError(f"{attr}: the call is not made yet (await or iterate it first)")
        return getattr(self._call, attr)

    # -- coroutine protocol, for asyncio.create_task() and friends ------------------------

    def _run(self) -> Generator[Any, None, Any]:
        if self._runner is None:
            self._runner = self.__await__()
        return self._runner

    def send(self, value: Any) -> Any:
        return self._run().send(value)

    def throw(
        self,
        typ: type[BaseException] | BaseException,
        val: BaseException | None = None,
        tb: TracebackType | None = None,
    ) -> Any:
        exc = typ if isinstance(typ, BaseException) else typ() if val is None else val
        return self._run().throw(exc)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
