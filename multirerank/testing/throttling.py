"""The emulator's own rate limit: ``Emulator(rate_limit="10/second")`` throttles like the vendor.

Requests to a vendor endpoint beyond the limit get that vendor's throttling answer, in its error
shape (:data:`THROTTLING_CODES`), without being served. Each emulator counts for itself, with a
moving window (``limits``), so a client that limits itself to the same rate, with a little room
for the network's jitter, gets no throttling answer at all.
"""

from __future__ import annotations

import threading

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from multirerank.testing.server import Response, Route
from multirerank.vendors import VENDORS

#: The code each vendor throttles with, from its spec's error table; its status is that row's.
#: SageMaker throttles with a 400 (AWS's common ThrottlingException); the others with a 429.
THROTTLING_CODES = {
    "bedrock": "ThrottlingException",
    "sagemaker": "ThrottlingException",
    "dashscope": "Throttling.RateQuota",
    "vertex": "RESOURCE_EXHAUSTED",
    "watsonx": "too_many_requests",
    "vllm": "RateLimitError",
    "tei": "Overloaded",
}
#: The message of a vendor whose spec has none for its code.
DEFAULT_MESSAGE = "Rate limit exceeded, please slow down."


class Throttle:
    """A moving-window rate limit of one emulator: ``"10/second"``, ``"10/second;300/minute"``.

    Raises ``ValueError`` for a spec that does not parse or allows nothing.
    """

    def __init__(self, spec: str) -> None:
        try:
            items: list[RateLimitItem] = list(parse_many(spec)) if isinstance(spec, str) else []
        except ValueError:
            items = []
        if not items or any(item.amount < 1 for item in items):
            raise ValueError(f"rate_limit must look like '10/second' or '10/second;300/minute'; got {spec!r}")
        self.spec = spec
        self._items = items
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        # Several limits are taken together or not at all.
        self._lock = threading.Lock()

    def admit(self) -> bool:
        """Count one request and return ``True``, or ``False`` (nothing counted) when over a limit."""
        with self._lock:
            if not all(self._limiter.test(item, "emulator") for item in self._items):
                return False
            return all([self._limiter.hit(item, "emulator") for item in self._items])


def throttled(route: Route) -> Response:
    """The throttling answer of ``route``'s vendor, in the shape of its other errors."""
    spec = VENDORS.get(route.vendor)
    code = THROTTLING_CODES.get(route.vendor)
    row = spec.errors.row(code) if spec is not None and code is not None else None
    status = row.statuses[0] if row is not None and row.statuses else 429
    message = (row.message if row is not None else None) or DEFAULT_MESSAGE
    return route.error(status, code, message)
