"""Rate limits. Counters live in the rate-limit storage (``RATELIMIT_STORAGE_URI``: memory for
one process, Redis for several workers).

* Route limits are Flask-Limiter decorators (``@limiter.limit``) on a plain
  ``flask_limiter.Limiter``. (An earlier subclass removed Flask-Limiter's per-request hooks
  through its private hook lists, for about 4% of a submit's CPU: under the 5% that would
  justify depending on a library's internals, so it is gone.) The respondent pages that
  carry no route limit are left out through Flask-Limiter's documented request filter
  (:data:`PAGES_WITHOUT_ROUTE_LIMITS`), which spares them its per-request limit resolution.
* Failed sign-ins (auth/throttle.py) count through the ``limits`` library that
  Flask-Limiter is built on, used directly.
* Survey submissions count through a :class:`BatchedCounter`: on the survey's hot path a
  round trip to Redis for every send cost about a tenth of the send's CPU.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from typing import cast

from flask import current_app, request
from limits import RateLimitItem, parse
from limits.storage import RedisStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .extensions import limiter

#: Respondents' pages with no ``@limiter.limit`` of their own (a survey's sends have the
#: submit brake below): Flask-Limiter skips them without resolving any limit. An endpoint
#: given a route limit must leave this set, or its limit would never apply.
PAGES_WITHOUT_ROUTE_LIMITS = frozenset(
    {"survey.start", "survey.page", "survey.check", "survey.done"}
)


@limiter.request_filter
def _page_without_route_limits() -> bool:
    return request.endpoint in PAGES_WITHOUT_ROUTE_LIMITS


def storage() -> Storage:
    """The app's counter storage, opened once per process."""
    found = current_app.extensions.get("pulse_ratelimit_storage")
    if found is None:
        found = storage_from_string(current_app.config["RATELIMIT_STORAGE_URI"])
        current_app.extensions["pulse_ratelimit_storage"] = found
    return cast(Storage, found)  # a synchronous URI (memory://, redis://) gives a Storage


def moving_window() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(storage())


@lru_cache(maxsize=32)
def limit(text: str) -> RateLimitItem:
    """``"100 per 10 minutes"`` as a limit (parsed once)."""
    return parse(text)


class BatchedCounter:
    """Hits per key in fixed windows of ``item`` (``"100 per 10 minutes"``: windows of ten
    minutes from the epoch), shared by every process through the rate-limit storage, with
    the storage's round trip taken off most requests.

    A process counts hits in memory and sends what it has counted, for every key at once,
    at most once per ``interval`` seconds: a Redis storage gets one pipelined round trip
    (``SET key 0 EX window NX`` and ``INCRBY key n`` per key), any other ``limits`` storage
    one ``incr`` per key. The reply is each key's total over all processes.

    :meth:`hit` refuses when the key's total last learnt plus this process's hits since
    then reach the limit. Within one process the limit is exact. Across processes it holds
    to within what the others accept before their next send, at most ``interval`` seconds
    of their traffic each: a brake, not a quota. If the storage fails, the unsent counts
    are kept for the next send (this process still brakes on its own counts) and
    ``on_failure`` is called.
    """

    def __init__(
        self,
        item: RateLimitItem,
        namespace: str,
        interval: float = 0.02,
        on_failure: Callable[[Exception], None] | None = None,
    ):
        self.item, self.namespace, self.interval = item, namespace, interval
        self.on_failure = on_failure
        self._window_seconds = item.get_expiry()
        self._lock = threading.Lock()
        self._unsent: Counter[tuple[int, str]] = Counter()  # (window, key): hits not sent
        self._learnt: dict[tuple[int, str], int] = {}  # (window, key): total over processes
        self._learnt_window = 0  # no slot of an earlier window is kept
        self._sent_at = float("-inf")

    def hit(self, storage: Storage, key: str, now: float | None = None) -> bool:
        """Count one hit for ``key``, unless that would pass the limit: whether it counted."""
        now = time.time() if now is None else now
        slot = (int(now // self._window_seconds), key)
        with self._lock:
            counted = self._learnt.get(slot, 0) + self._unsent[slot] < self.item.amount
            if counted:
                self._unsent[slot] += 1
            if now - self._sent_at < self.interval or not self._unsent:
                return counted
            batch, self._unsent, self._sent_at = self._unsent, Counter(), now
        self._send(storage, batch, current_window=slot[0])
        return counted

    def _send(self, storage: Storage, batch: Counter[tuple[int, str]], current_window: int) -> None:
        try:
            totals = self._add(storage, batch)
        except Exception as exc:  # noqa: BLE001 - any storage failure (Redis down, timeout)
            with self._lock:  # kept for the next send, but not for windows that have passed
                self._unsent.update(
                    {slot: count for slot, count in batch.items() if slot[0] >= current_window}
                )
            if self.on_failure is not None:
                self.on_failure(exc)
            return
        with self._lock:
            if current_window > self._learnt_window:  # once a window, not on every send
                self._learnt = {
                    slot: total for slot, total in self._learnt.items() if slot[0] >= current_window
                }
                self._learnt_window = current_window
            for slot, total in zip(batch, totals, strict=True):
                if slot[0] >= current_window:
                    self._learnt[slot] = max(total, self._learnt.get(slot, 0))

    def _add(self, storage: Storage, batch: Counter[tuple[int, str]]) -> list[int]:
        """Add ``batch`` to the shared counts; each slot's new total, in ``batch``'s order."""
        keys = [f"{self.namespace}/{window}/{key}" for window, key in batch]
        if isinstance(storage, RedisStorage):
            pipeline = storage.get_connection().pipeline(transaction=False)  # type: ignore[attr-defined]  # redis.Redis; limits types it as a protocol
            for name, count in zip(keys, batch.values(), strict=True):
                name = storage.prefixed_key(name)
                pipeline.set(name, 0, ex=self._window_seconds, nx=True)
                pipeline.incrby(name, count)
            return [int(total) for total in pipeline.execute()[1::2]]
        return [
            storage.incr(name, self._window_seconds, amount=count)
            for name, count in zip(keys, batch.values(), strict=True)
        ]


# --------------------------------------------------------------------------- the submit brake

#: Sends from one address into one wave (and one roadshow event): room for a roadshow of
#: 300 people on one Wi-Fi answering within ten minutes, twice over.
DEFAULT_SUBMIT_LIMIT = "600 per 10 minutes"
#: Sends into one wave from every address together: a flood from many addresses stops here.
DEFAULT_WAVE_SUBMIT_LIMIT = "3000 per 10 minutes"
#: How often a process adds its submit counts to the shared storage. Every 20 ms (the
#: counter's default) was more often than a busy worker receives sends, so each send paid
#: its own two round trips to Redis; four times a second lets a brake of hundreds per ten
#: minutes overshoot by at most a quarter of a second of the other workers' sends.
SUBMIT_COUNT_INTERVAL = 0.25


def _counter(
    setting: str, default: str, namespace: str, on_failure: Callable[[Exception], None] | None
) -> BatchedCounter:
    allowed = current_app.config.get(setting) or default
    counters = current_app.extensions.setdefault("pulse_submit_counters", {})
    key = (namespace, allowed)
    if key not in counters:
        counters[key] = BatchedCounter(
            limit(allowed), namespace, interval=SUBMIT_COUNT_INTERVAL, on_failure=on_failure
        )
    return counters[key]


def submit_allowed(
    wave_id: int,
    event_id: int | None,
    address: str,
    on_failure: Callable[[Exception], None] | None = None,
) -> bool:
    """Count one survey send against the brake; whether it may go ahead.

    Two limits, both counted without storing who sent (counters in the rate-limit storage
    only, keyed by wave, event and address, expiring with their window):

    * per address **within one wave and one event** (``SURVEY_SUBMIT_RATE_LIMIT``, default
      600 per 10 minutes): a roadshow hall or a council office shares one address, and
      the brake of one wave or event never stops another's respondents;
    * per wave over every address (``SURVEY_WAVE_SUBMIT_RATE_LIMIT``, default 3000 per 10
      minutes): a flood spread over many addresses is still refused.

    A send refused by the first is not counted by the second."""
    scope = f"{wave_id}/{event_id if event_id is not None else '-'}"
    per_address = _counter(
        "SURVEY_SUBMIT_RATE_LIMIT", DEFAULT_SUBMIT_LIMIT, "survey-submit", on_failure
    )
    if not per_address.hit(storage(), f"{scope}/{address}"):
        return False
    per_wave = _counter(
        "SURVEY_WAVE_SUBMIT_RATE_LIMIT", DEFAULT_WAVE_SUBMIT_LIMIT, "survey-submit-wave", on_failure
    )
    return per_wave.hit(storage(), str(wave_id))
