"""The batched per-address counter behind the survey's submit brake (survey_app/ratelimit.py).

Two counters on one storage stand for two gunicorn processes; time is passed in, so the
windows and send intervals are exact. The Redis path runs against a throwaway redis-server
of the test's own on a free port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from limits import parse
from limits.storage import MemoryStorage, storage_from_string

from survey_app.ratelimit import BatchedCounter

ADDRESS = "203.0.113.7"


def counter(limit: str = "3 per minute", interval: float = 1.0, **kwargs) -> BatchedCounter:
    return BatchedCounter(parse(limit), "test", interval=interval, **kwargs)


def hits(brake: BatchedCounter, storage, times: list[float], key: str = ADDRESS) -> list[bool]:
    return [brake.hit(storage, key, now=t) for t in times]


def test_one_process_holds_the_limit_exactly_in_each_window() -> None:
    storage, brake = MemoryStorage(), counter("3 per minute", interval=1.0)
    # sends at 0.0 and 1.5 only; the limit holds on the counts in memory in between
    assert hits(brake, storage, [0.0, 0.2, 0.4, 0.6, 1.5]) == [True, True, True, False, False]
    assert hits(brake, storage, [1.6], key="198.51.100.1") == [True]  # another address
    assert hits(brake, storage, [60.0, 60.1]) == [True, True]  # the next window starts afresh


def test_processes_learn_each_others_counts_when_they_send() -> None:
    storage = MemoryStorage()
    first, second = counter("5 per minute"), counter("5 per minute")
    assert hits(first, storage, [0.0, 0.1, 0.2]) == [True] * 3  # sent: 1; in memory: 2
    # the second learns the first's sent hit with its own first send, not the two unsent
    assert hits(second, storage, [0.3, 0.4, 0.5, 0.6, 0.7]) == [True] * 4 + [False]
    # the first sends its two (and the hit it counts now) and learns the second's sent one
    assert hits(first, storage, [1.2]) == [True]
    assert hits(first, storage, [1.3]) == [False]  # 1 + 3 sent by the first, 1 by the second
    # a refused hit still sends what its process holds: the second's three reach the storage
    assert hits(second, storage, [1.4]) == [False]
    third = counter("5 per minute")
    assert hits(third, storage, [1.5, 1.6]) == [True, False]  # learnt 8 + its own 1


def test_overshoot_across_processes_is_at_most_one_interval_of_their_traffic() -> None:
    storage = MemoryStorage()
    processes = [counter("10 per minute", interval=0.5) for _ in range(3)]
    accepted = 0
    for step in range(400):  # round-robin, 100 hits a second, for 4 seconds
        accepted += processes[step % 3].hit(storage, ADDRESS, now=step / 100)
    # Each process learns the others' hits within one interval (here 0.5 s, about 17 of
    # its hits), and never accepts more than the limit on what it knows and holds itself.
    assert 10 <= accepted <= 3 * 10
    assert all(p.hit(storage, ADDRESS, now=5.0) is False for p in processes)


class FlakyStorage(MemoryStorage):
    """A memory storage that fails while ``down`` (as Redis does when it is away)."""

    down = False

    def incr(self, key, expiry, amount=1):  # type: ignore[no-untyped-def]
        if self.down:
            raise ConnectionError("storage away")
        return super().incr(key, expiry, amount=amount)


def test_counts_wait_in_memory_while_the_storage_is_away() -> None:
    storage, failures = FlakyStorage(), []
    brake = counter("4 per minute", interval=1.0, on_failure=failures.append)
    storage.down = True
    assert hits(brake, storage, [0.0, 0.5, 1.0]) == [True] * 3  # still braking on its own
    assert len(failures) == 2 and isinstance(failures[0], ConnectionError)
    storage.down = False
    assert hits(brake, storage, [2.0]) == [True]
    assert storage.get(f"test/0/{ADDRESS}") == 4  # all four reached the storage
    assert hits(brake, storage, [2.1]) == [False]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, never the machine's shared one."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)


def test_redis_gets_one_key_per_address_and_window_that_expires(redis_url: str) -> None:
    storage = storage_from_string(redis_url)
    first, second = counter("3 per 10 minutes"), counter("3 per 10 minutes")
    now = 6000.0  # the start of window 10
    assert hits(first, storage, [now, now + 0.1], key="192.0.2.1") == [True, True]
    assert hits(first, storage, [now + 0.2], key="192.0.2.2") == [True]
    assert hits(first, storage, [now + 1.5], key="192.0.2.1") == [True]  # sends three
    client = redis.Redis.from_url(redis_url)
    key = storage.prefixed_key("test/10/192.0.2.1")
    assert int(client.get(key)) == 3
    assert 0 < client.ttl(key) <= 600
    assert int(client.get(storage.prefixed_key("test/10/192.0.2.2"))) == 1
    # a process's first hit for an address goes ahead and learns the others' count
    assert hits(second, storage, [now + 2.0, now + 2.1], key="192.0.2.1") == [True, False]
    assert int(client.get(key)) == 4
    assert hits(second, storage, [now + 2.2], key="192.0.2.2") == [True]
    client.close()
