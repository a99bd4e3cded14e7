"""Plugin side: a print() returns once its stream sent it, never waits on itself or forever."""

from __future__ import annotations

import threading
import time

from goplugin._services.stdio import STDOUT, StdioBuffer


def test_a_write_waits_until_the_consumer_sent_it() -> None:
    buffer = StdioBuffer()
    taken = threading.Event()
    sent_at: list[float] = []

    def consume() -> None:
        token = buffer.consumer_started()
        buffer.wait(5)
        buffer.pop_all()
        taken.set()
        time.sleep(0.1)  # "sending"
        sent_at.append(time.monotonic())
        buffer.sent()
        buffer.consumer_stopped(token)

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.05)  # registered
    buffer.wait_sent(buffer.push(STDOUT, b"last words\n"), 5)
    returned_at = time.monotonic()
    consumer.join()
    assert taken.is_set() and sent_at and returned_at >= sent_at[0]


def test_no_consumer_no_wait_and_the_consumer_never_waits_for_itself() -> None:
    buffer = StdioBuffer()
    started = time.monotonic()
    buffer.wait_sent(buffer.push(STDOUT, b"x"), 5)  # nobody drains: returns at once
    token = buffer.consumer_started()
    buffer.wait_sent(buffer.push(STDOUT, b"y"), 5)  # we are the consumer
    assert time.monotonic() - started < 1
    buffer.consumer_stopped(token)


def test_waits_are_bounded_and_end_with_the_stream_or_stop_waiting() -> None:
    buffer = StdioBuffer()
    token = None

    def register() -> None:
        nonlocal token
        token = buffer.consumer_started()  # a consumer that never sends

    owner = threading.Thread(target=register)
    owner.start()
    owner.join()
    started = time.monotonic()
    buffer.wait_sent(buffer.push(STDOUT, b"x"), 0.2)
    assert 0.15 < time.monotonic() - started < 2
    threading.Timer(0.1, buffer.stop_waiting).start()
    started = time.monotonic()
    buffer.wait_sent(buffer.push(STDOUT, b"y"), 5)
    assert time.monotonic() - started < 2
    buffer.consumer_stopped(token)
