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
from moto.core.botocore_stubber import BotocoreStubber


class AwsTimer:
    """Counts every AWS call by operation and sums the time spent inside them (``seconds``),
    and of that the part inside moto's server (``server_seconds``): the rest is botocore's own
    work in this process (serialising, signing, parsing), which Lambda runs too."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.server_seconds = 0.0
        self.calls: Counter[str] = Counter()
        self._original = BaseClient._make_api_call
        self._server = BotocoreStubber.__call__

    def __enter__(self) -> AwsTimer:
        original, server, timer = self._original, self._server, self

        def served(stubber: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
            started = time.process_time()
            try:
                return server(stubber, event_name, request, **kwargs)
            finally:
                timer.server_seconds += time.process_time() - started

        BotocoreStubber.__call__ = served  # type: ignore[method-assign]

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
        BotocoreStubber.__call__ = self._server  # type: ignore[method-assign]


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
