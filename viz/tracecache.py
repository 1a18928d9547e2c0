"""Traces shared by every session of one server: a byte-bounded LRU cache, one computation per key
at a time, and a micro-batcher that runs inputs arriving together as one forward pass.

    cache = TraceCache.from_env()                   # ATTENTION_LENS_TRACE_CACHE_MB, default 2048
    trace = cache.get_or_compute(("text", name, text, pair), lambda: trace_text(tm, text, pair))

    batcher = MicroBatcher(lambda items: trace_texts(tm, items), window_s=0.005)
    trace = batcher.submit((text, pair))            # waits a few ms for others, one forward pass

No Streamlit here (viz/ui/cache.py is the glue). Why not st.cache_resource: it bounds a cache by
entries, and a 15-token trace (kilobytes) and a 512-token one (~90 MB) are not the same entry;
with 4 entries for a class of 30, a student's layer or head change usually missed and ran the
model again. Bounded by bytes, every student's current trace fits (30 x 15 tokens is under 1 MB).

Values are shared by sessions: `freeze` makes their arrays read-only before they are stored.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

CACHE_ENV = "ATTENTION_LENS_TRACE_CACHE_MB"
DEFAULT_CACHE_MB = 2048
BATCH_ENV = "ATTENTION_LENS_BATCH"  # on (default), off
BATCH_MS_ENV = "ATTENTION_LENS_BATCH_MS"
DEFAULT_BATCH_MS = 5.0


def nbytes_of(value: Any) -> int:
    """Approximate bytes a cached value holds: arrays by nbytes, containers summed, anything with
    an `nbytes` (AttentionTrace) by it, a plotly figure by its JSON length, other objects 1 KiB."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if hasattr(value, "nbytes") and isinstance(value.nbytes, int):
        return value.nbytes + 1024  # + tokens and meta
    if isinstance(value, dict):
        return sum(nbytes_of(v) for v in value.values()) + 64 * len(value)
    if isinstance(value, (list, tuple)):
        return sum(nbytes_of(v) for v in value) + 8 * len(value)
    if isinstance(value, (str, bytes)):
        return len(value)
    if hasattr(value, "to_json"):  # a plotly figure: its images are data URIs inside
        return len(value.to_json())
    return 1024


def freeze(value: Any) -> Any:
    """Make every numpy array inside `value` read-only (in place) and return it."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif hasattr(value, "arrays"):  # AttentionTrace
        for a in value.arrays():
            a.flags.writeable = False
    elif isinstance(value, dict):
        for v in value.values():
            freeze(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            freeze(v)
    return value


class TraceCache:
    """A thread-safe LRU cache bounded by bytes, with single-flight computation.

    get_or_compute(key, fn): a hit returns the stored value and makes it the most recent; a miss
    runs fn once even when many threads ask for the same key at once (the others wait for that
    one result, or its exception, which is not cached). A value larger than the whole budget is
    returned but not kept. The least recently used values go first when the budget is exceeded.
    """

    def __init__(self, max_bytes: int, sizeof: Callable[[Any], int] = nbytes_of):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self._sizeof = sizeof
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._inflight: dict[Hashable, Future] = {}
        self.bytes = 0
        self.hits = self.misses = self.evictions = 0

    @classmethod
    def from_env(cls) -> TraceCache:
        """Budget from ATTENTION_LENS_TRACE_CACHE_MB (default 2048 MB); a bad value says so."""
        raw = os.environ.get(CACHE_ENV, "").strip()
        try:
            mb = float(raw) if raw else DEFAULT_CACHE_MB
            if not mb >= 0:
                raise ValueError
        except ValueError:
            raise ValueError(f"{CACHE_ENV} must be a number of megabytes (0 or more), got {raw!r}.") from None
        return cls(int(mb * 2**20))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
        return default

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
            fut = self._inflight.get(key)
            owner = fut is None
            if owner:
                fut = self._inflight[key] = Future()
                self.misses += 1
            else:
                self.hits += 1  # served by the computation already running
        if not owner:
            return fut.result()
        try:
            value = freeze(compute())
        except BaseException as err:
            with self._lock:
                del self._inflight[key]
            fut.set_exception(err)
            raise
        self._store(key, value)
        fut.set_result(value)
        return value

    def _store(self, key: Hashable, value: Any) -> None:
        size = self._sizeof(value)
        with self._lock:
            del self._inflight[key]
            if size > self.max_bytes:
                log.info("trace cache: a value of %.1f MB exceeds the %.0f MB budget; not kept",
                         size / 2**20, self.max_bytes / 2**20)
                return
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            self._items[key] = (value, size)
            self.bytes += size
            while self.bytes > self.max_bytes:
                _, (_, s) = self._items.popitem(last=False)
                self.bytes -= s
                self.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


def batching_enabled(device: str) -> bool:
    """ATTENTION_LENS_BATCH: "on" (default) or "off". On for CPU and CUDA alike: on CPU, 4
    short inputs as one batch took 0.36x the time of 4 forward passes in a row
    (docs/benchmarks.md, `python -m benchmarks.batching`); `device` is there for a policy
    that would differ per device."""
    mode = os.environ.get(BATCH_ENV, "on").strip().lower()
    return mode not in ("off", "0", "false", "no")


def batch_window_s() -> float:
    raw = os.environ.get(BATCH_MS_ENV, "")
    try:
        ms = float(raw) if raw.strip() else DEFAULT_BATCH_MS
    except ValueError:
        ms = DEFAULT_BATCH_MS
    return max(0.0, ms) / 1000


class MicroBatcher:
    """Collect requests for `window_s`, run them as one batch, hand each caller its own result.

    `run_batch(items) -> results` (same order, same length). The first request of a batch leads:
    it waits up to window_s (less once max_batch requests wait), takes the batch and runs it in its
    own thread; the others wait for their result. One batch runs at a time, so requests that
    arrive while one runs join the next. If the batch raises (one bad input), each item is run
    alone, so one caller's error never reaches another. enabled=False: run each at once.
    """

    def __init__(self, run_batch: Callable[[Sequence[Any]], Sequence[Any]], enabled: bool = True,
                 window_s: float = DEFAULT_BATCH_MS / 1000, max_batch: int = 8):
        self.run_batch = run_batch
        self.enabled = enabled
        self.window_s = window_s
        self.max_batch = max(1, max_batch)
        self._cond = threading.Condition()
        self._run_lock = threading.Lock()
        self._pending: list[tuple[Any, Future]] = []
        self.batches: deque[int] = deque(maxlen=1000)  # sizes of the latest batches run

    def submit(self, item: Any) -> Any:
        if not self.enabled:
            self.batches.append(1)
            return self.run_batch([item])[0]
        fut: Future = Future()
        with self._cond:
            self._pending.append((item, fut))
            leader = len(self._pending) == 1
            if len(self._pending) >= self.max_batch:
                self._cond.notify_all()
        if leader:
            self._lead()
        return fut.result()

    def _lead(self) -> None:
        deadline = time.monotonic() + self.window_s
        with self._cond:
            while len(self._pending) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
        while True:
            with self._run_lock:  # one batch at a time: requests arriving meanwhile join the next
                with self._cond:
                    batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                if not batch:
                    return
                self._run(batch)
            with self._cond:  # requests that came while we ran, with no leader of their own
                if not self._pending:
                    return

    def _run(self, batch: list[tuple[Any, Future]]) -> None:
        self.batches.append(len(batch))
        items = [item for item, _ in batch]
        try:
            results = self.run_batch(items)
            if len(results) != len(items):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(items)} items")
        except BaseException as err:
            if len(batch) == 1:
                batch[0][1].set_exception(err)
                return
            for item, fut in batch:  # one at a time: each caller gets its own result or error
                try:
                    fut.set_result(self.run_batch([item])[0])
                except BaseException as one_err:
                    fut.set_exception(one_err)
            return
        for (_, fut), result in zip(batch, results, strict=True):
            fut.set_result(result)
