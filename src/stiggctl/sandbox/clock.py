"""The sandbox's one clock: wall time plus an offset that can be moved forward.

Every emulator reads time through a `Clock` so that tests (and `stiggctl sandbox`'s
time-travel control) can cross a usage period or expire a cache entry without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Clock:
    def __init__(self, start: float | None = None, source: Callable[[], float] = time.time):
        self._source = source
        self._lock = threading.Lock()
        # A frozen clock (start given) only moves when advanced: deterministic tests.
        self._frozen = start
        self._offset = 0.0

    def __call__(self) -> float:
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return self._source() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            if self._frozen is not None:
                self._frozen += seconds
            else:
                self._offset += seconds

    def ms(self) -> int:
        return int(self() * 1000)
