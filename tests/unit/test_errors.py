from __future__ import annotations

import random

import pytest

from pipeline.errors import NetworkError, ServerError, retry_delay


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(0, 30, 60), (1, 60, 120), (3, 240, 480), (10, 1800, 3600)],  # capped at 3600
)
def test_retry_delay_doubles_with_jitter_and_a_cap(attempt: int, low: float, high: float) -> None:
    rng = random.Random(7)
    delays = [
        retry_delay(NetworkError("x"), attempt, base=60, cap=3600, rng=rng) for _ in range(200)
    ]
    assert low <= min(delays) and max(delays) <= high
    assert max(delays) - min(delays) > (high - low) / 4, "jittered, not fixed"


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    assert retry_delay(ServerError(429, retry_after=500), 0, base=1, cap=3600) == 500
    assert retry_delay(ServerError(503, retry_after=10**6), 0, base=1, cap=3600) == 3600
