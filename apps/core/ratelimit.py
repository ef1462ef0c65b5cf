"""A fixed-window rate limit in the shared cache, for actions that cost more than a request:
revealing a token, testing a connection. Rates read `N/sec`, `N/min`, `N/hour` or `N/day`."""

from __future__ import annotations

import time

from django.core.cache import cache

PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600, "d": 86400, "day": 86400}


class RateLimited(Exception):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"rate limited; retry in {retry_after} s")


def parse_rate(raw: str) -> tuple[int, int]:
    count, _, period = str(raw).partition("/")
    return int(count), PERIODS.get(period.strip().lower(), 60)


def rate_check(scope: str, who: object, rate: str) -> None:
    """Count one use by `who` in `scope`; raise RateLimited once over `rate` in this window."""
    limit, period = parse_rate(rate)
    window = int(time.time() // period)
    key = f"rate:{scope}:{who}:{window}"
    if cache.add(key, 1, period + 1):
        used = 1
    else:
        try:
            used = cache.incr(key)
        except ValueError:
            cache.set(key, 1, period + 1)
            used = 1
    if used > limit:
        raise RateLimited(int(period - time.time() % period) + 1)
