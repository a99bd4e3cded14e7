"""gob's process-wide caches driven from many threads at once (no processes).

Every Encoder and Decoder shares the compiled per-type functions, the zero values of structs
and the default registry, whichever thread and stream they serve. Each test lets 16 threads
meet brand-new types in the same instant (see ``threaded.collide``), many rounds over, and
checks they all got exactly what one thread alone gets.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from goplugin.errors import GobEncodeError
from goplugin.netrpc import _gob as gob
from goplugin.netrpc._gobencops import op_for, payload_op_for
from goplugin.netrpc._rpc import _pointer_to

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threaded import collide, succeeded


def _wide(tag: str) -> gob.Struct:
    """A type whose ops take a while to build: three structs of six nested-collection fields."""
    inner = [
        gob.Struct(
            f"Inner{tag}x{k}",
            [
                (f"F{j}", gob.Slice(gob.Map(gob.STRING, gob.Array(gob.INT, j + 1))))
                for j in range(6)
            ],
        )
        for k in range(3)
    ]
    return gob.Struct(f"Wide{tag}", [*((f"X{k}", inner[k]) for k in range(3)), ("S", gob.STRING)])


WIDE_VALUE = {"S": "x", "X0": {"F0": [{"k": [1]}], "F5": [{"a": [1, 2, 3, 4, 5, 6]}]}}


def _node(tag: str) -> gob.Struct:
    """A recursive type: its op must exist before the ops of its own fields."""
    node = gob.Struct(f"Node{tag}")
    node.define([("V", gob.INT), ("Next", gob.Ptr(node)), ("Kids", gob.Slice(node))])
    return node


NODE_VALUE = {"V": 1, "Next": {"V": 2, "Kids": [{"V": 3}, {"V": 4, "Next": {"V": 5}}]}}


def _run_op(op: Any, value: Any) -> bytes:
    out = bytearray()
    op(gob.Encoder(), out, value)
    return bytes(out)


@pytest.mark.timeout(120)
def test_encoder_ops_of_a_new_type_are_never_seen_half_built() -> None:
    """Issue 12 #2: one thread built a type's op while others took its placeholder, which
    looked itself up again forever (RecursionError) until the build finished."""
    types = [_wide(f"Op{r}") for r in range(30)]

    def work(r: int, i: int) -> bytes:
        op = payload_op_for(types[r]) if i % 2 else op_for(types[r])
        return _run_op(op, WIDE_VALUE)

    results = succeeded(collide(work, rounds=len(types)))
    for t, row in zip(types, results, strict=True):
        assert row == [_run_op(op_for(t), WIDE_VALUE)] * len(row)


@pytest.mark.timeout(120)
def test_encoders_in_many_threads_meet_new_and_recursive_types() -> None:
    types = [(_wide(f"Enc{r}"), _node(f"Enc{r}")) for r in range(20)]

    def work(r: int, i: int) -> bytes:
        wide, node = types[r]
        if i % 2:
            return gob.Encoder().encode_values((NODE_VALUE, node), (WIDE_VALUE, wide))
        return gob.Encoder().encode_values((WIDE_VALUE, wide), (NODE_VALUE, node))

    results = succeeded(collide(work, rounds=len(types)))
    for (wide, node), row in zip(types, results, strict=True):
        odd = gob.Encoder().encode_values((NODE_VALUE, node), (WIDE_VALUE, wide))
        even = gob.Encoder().encode_values((WIDE_VALUE, wide), (NODE_VALUE, node))
        assert row == [odd if i % 2 else even for i in range(len(row))]
        dec = gob.Decoder()
        dec.feed(even)
        assert dec.next_value(wide)["S"] == "x"
        assert dec.next_value(node)["Next"]["Kids"][1]["Next"]["V"] == 5


def test_a_failed_build_publishes_nothing_and_breaks_no_other_type() -> None:
    """A type whose ops cannot be built (a struct without fields yet) leaves the cache as it
    was: neither its half-built ops nor anybody else's are dropped or published."""
    later = gob.Struct("LaterThreads")
    outer = gob.Struct("OuterThreads", [("A", gob.INT), ("L", gob.Ptr(later))])
    good = _node("Survivor")
    survivor = op_for(good)

    def work(r: int, i: int) -> object:
        if i % 2:
            with pytest.raises(GobEncodeError, match="no fields defined"):
                gob.Encoder().encode({"A": 1}, outer)
            return None
        return gob.Encoder().encode(NODE_VALUE, good)

    succeeded(collide(work, rounds=10))
    assert op_for(good) is survivor
    later.define([("B", gob.STRING)])  # now it can be built
    assert gob.Encoder().encode({"A": 1, "L": {"B": "b"}}, outer)


@pytest.mark.timeout(120)
def test_decoders_share_zero_values_of_new_structs() -> None:
    """Zero values of fields a sender left out are planned once per struct, for everyone."""
    sent = gob.Struct("Sent", [("A", gob.INT)])
    data = gob.Encoder().encode({"A": 7}, sent)
    rounds = []
    for r in range(30):
        inner = gob.Struct(f"ZeroIn{r}", [("N", gob.Slice(gob.INT)), ("M", gob.Array(gob.INT, 2))])
        rounds.append(
            gob.Struct(
                "Sent",
                [("A", gob.INT), ("Tags", gob.Slice(gob.STRING)), ("In", inner), ("S", gob.STRING)],
            )
        )

    def work(r: int, i: int) -> Any:
        dec = gob.Decoder()
        dec.feed(data)
        return dec.next_value(rounds[r])

    results = succeeded(collide(work, rounds=len(rounds)))
    want = {"A": 7, "Tags": [], "In": {"N": [], "M": [0, 0]}, "S": ""}
    assert all(row == [want] * len(row) for row in results)
    flat = [x for row in results for x in row]
    assert len({id(x["Tags"]) for x in flat}) == len(flat)  # fresh mutable zeros each time


@pytest.mark.timeout(120)
def test_registry_refuses_one_name_for_two_types_even_at_once() -> None:
    """Go's gob.Register panics on a second type under a taken name; here exactly one of 16
    threads registering different types under one name wins, the others get the error.

    The window is a few bytecodes wide: it takes thousands of rounds to hit it reliably.
    """
    registry = gob.Registry()
    contenders = [[gob.Struct(f"Dup{r}", [("A", gob.INT)]) for _ in range(16)] for r in range(2000)]
    results = collide(
        lambda r, i: registry.register(contenders[r][i], f"main.Dup{r}"),
        rounds=len(contenders),
        switch_interval=1e-6,
    )
    for r, row in enumerate(results):
        winners = [i for i, x in enumerate(row) if isinstance(x, str)]
        assert len(winners) == 1, (r, row)
        assert all(isinstance(x, GobEncodeError) for x in row if not isinstance(x, str)), row
        winner = contenders[r][winners[0]]
        assert registry.lookup(f"main.Dup{r}") is winner
        assert registry.name_of(winner) == f"main.Dup{r}".encode()
        assert [t for t in contenders[r] if registry.name_of(t)] == [winner]


@pytest.mark.timeout(120)
def test_registry_serves_readers_while_others_register() -> None:
    registry = gob.Registry()
    point = gob.Struct("Pt", [("X", gob.INT)])
    registry.register(point)
    data = gob.Encoder(registry).encode(gob.Typed(point, {"X": 1}), gob.INTERFACE)
    added = [[gob.Struct(f"Reg{r}x{i}", [("A", gob.INT)]) for i in range(16)] for r in range(20)]

    def work(r: int, i: int) -> object:
        if i % 2:
            registry.register(added[r][i])
            return registry.copy().lookup(f"main.Reg{r}x{i}") is added[r][i]
        dec = gob.Decoder(registry)
        dec.feed(data)
        return dec.next_value()

    results = succeeded(collide(work, rounds=len(added)))
    assert all(x in (True, {"X": 1}) for row in results for x in row)


def test_reply_targets_are_memoized_once_for_every_thread() -> None:
    """net/rpc decodes replies into new(T): one memoized Ptr(T) per T (a Python builtin stands
    for itself), whichever threads ask first, at once."""
    types: list[gob.GoType | type] = [gob.Struct(f"PtrT{r}", [("A", gob.INT)]) for r in range(20)]
    types += [str, bytes, int, float, bool, list, dict]

    def work(r: int, i: int) -> gob.GoType | type:
        return _pointer_to(types[r])

    results: list[list[gob.GoType | type]] = succeeded(collide(work, rounds=len(types)))
    for t, row in zip(types, results, strict=True):
        want = gob.Ptr(t) if isinstance(t, gob.GoType) else t
        assert all(p == want for p in row)
        assert _pointer_to(t) is _pointer_to(t)


@pytest.mark.timeout(120)
def test_a_struct_is_defined_once_even_by_threads_at_once() -> None:
    structs = [gob.Struct(f"Once{r}") for r in range(500)]

    def work(r: int, i: int) -> object:
        return structs[r].define([(f"F{i}", gob.INT)])

    results = collide(work, rounds=len(structs), switch_interval=1e-6)
    for s, row in zip(structs, results, strict=True):
        winners = [i for i, x in enumerate(row) if x is s]
        assert len(winners) == 1, row
        assert s.fields == (gob.Field(f"F{winners[0]}", gob.INT, f"F{winners[0]}"),)
        assert all(isinstance(x, GobEncodeError) for x in row if x is not s)


def test_descriptor_hashes_cached_by_racing_threads_agree() -> None:
    """Structural descriptors cache their hash on first use; racing threads store one value."""
    fresh = [[gob.Map(gob.STRING, gob.Slice(gob.Array(gob.INT, r)))] for r in range(50)]
    results = succeeded(collide(lambda r, i: hash(fresh[r][0]), rounds=len(fresh)))
    for r, ((t,), row) in enumerate(zip(fresh, results, strict=True)):
        twin = gob.Map(gob.STRING, gob.Slice(gob.Array(gob.INT, r)))
        assert set(row) == {hash(t)} == {hash(twin)}
