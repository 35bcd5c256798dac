"""Dagster's QueuedRunCoordinator, with the queue looked at every half second
(ADR 8, docs/adr/0008-half-second-dequeue.md).

Dagster's `dequeue_interval_seconds` is an integer, so the daemon looks at the
queue at most once a second. Its loop (`IntervalDaemon`) waits in 0.5 s slices
until the interval has passed since the last look began, so at 1 s a queued run
waits 0-1.1 s, half of that on average; at 0.5 s it waits 0-0.6 s. Nothing
else changes: the same class, the same limits (`tag_concurrency_limits`,
`max_concurrent_runs`), the same threads; this subclass only lets the field
take 0.5, and hands Dagster's own code the whole second above it.

Public Dagster names only. What it relies on that Dagster does not promise:
the daemon passes the coordinator's `dequeue_interval_seconds` to its loop as
it is, and the loop compares it with a float clock. tests/test_run_queue.py
fails when either stops being true.
"""

from __future__ import annotations

import math
from typing import Any

from dagster import Field, QueuedRunCoordinator

# IntervalDaemon waits in 0.5 s slices: a shorter interval buys nothing.
SHORTEST_SECONDS = 0.5
KEY = "run_coordinator.config.dequeue_interval_seconds"


class HalfSecondQueuedRunCoordinator(QueuedRunCoordinator):
    def __init__(self, *args: Any, dequeue_interval_seconds: float | None = None, **kwargs: Any):
        if dequeue_interval_seconds is not None and dequeue_interval_seconds < SHORTEST_SECONDS:
            raise ValueError(
                f"{KEY}: {dequeue_interval_seconds} is below {SHORTEST_SECONDS}, "
                "the daemon's shortest wait between looks at the queue"
            )
        whole = None if dequeue_interval_seconds is None else math.ceil(dequeue_interval_seconds)
        super().__init__(*args, dequeue_interval_seconds=whole, **kwargs)
        self._interval = dequeue_interval_seconds

    @classmethod
    def config_type(cls):
        schema = dict(super().config_type())
        schema["dequeue_interval_seconds"] = Field(
            float,
            is_required=False,
            description=(
                f"Seconds between the daemon's looks at the run queue: at least {SHORTEST_SECONDS}, "
                "fractions allowed. Default 5, as Dagster's."
            ),
        )
        return schema

    @property
    def dequeue_interval_seconds(self) -> float:  # type: ignore[override]  # Dagster's is an int
        return super().dequeue_interval_seconds if self._interval is None else self._interval


__all__ = ["HalfSecondQueuedRunCoordinator"]
