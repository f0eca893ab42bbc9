"""Reading the HTTP response headers the backends act on, whichever client or SDK delivered them."""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping
from datetime import datetime, timezone


def header_value(headers: object, name: str) -> object:
    """The value of header ``name`` (any case) in a mapping of headers, or ``None``."""
    if not isinstance(headers, Mapping):
        return None
    wanted = name.lower()
    return next((value for key, value in headers.items() if str(key).lower() == wanted), None)


def parse_retry_after(value: object) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta seconds or an HTTP date (RFC 9110).

    ``None`` when there is no usable value; a date in the past means no wait (``0.0``).
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            seconds = (when - datetime.now(timezone.utc)).total_seconds()
    else:
        return None
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
