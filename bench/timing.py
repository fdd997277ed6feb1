"""Where a handler's time goes: inside AWS calls (botocore's ``_make_api_call``: serialising,
moto's in-process server, parsing) or in the handler's own work (validation, hashing, building
requests, logging, metrics). Lambda bills both; only the second is ours to make faster.

Times are this process's CPU time (``time.process_time``), not the wall clock: on a shared
machine the wall clock also counts the moments the process waits for a core, which is noise
here. On Lambda a CPU-bound step takes its CPU time divided by the memory size's CPU share."""

from __future__ import annotations

import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

from botocore.client import BaseClient


class AwsTimer:
    """Counts every AWS call by operation and sums the time spent inside them."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls: Counter[str] = Counter()
        self._original = BaseClient._make_api_call

    def __enter__(self) -> AwsTimer:
        original, timer = self._original, self

        def timed(client: Any, operation: str, params: Any) -> Any:
            started = time.process_time()
            try:
                return original(client, operation, params)
            finally:
                timer.seconds += time.process_time() - started
                timer.calls[operation] += 1

        BaseClient._make_api_call = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        BaseClient._make_api_call = self._original  # type: ignore[method-assign]


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Powertools writes every log line and EMF document to stdout: /dev/null while timing
    (the writes still happen, so their cost is measured)."""
    saved = os.dup(1)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
