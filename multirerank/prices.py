"""What a call cost: the list prices (data in :mod:`multirerank.vendors`, one
:class:`~multirerank.vendor_spec.Price` per vendor and model), the caller's own prices, and the
arithmetic.

A price is looked up by ``"provider/model"`` (``"cohere/rerank-v3.5"``,
``"bedrock/cohere.rerank-v3-5:0"``; a Bedrock ARN by its model id), then ``"provider/*"``, each
first with the backend's region (``"dashscope/qwen3-rerank@cn-beijing"``) where prices differ by
region; the caller's ``prices=`` come before the table. A price that is unknown, or a count the
vendor did not report, gives ``cost_usd=None``: never a guessed 0. No library: a dict lookup and
one multiplication need none.
"""

from __future__ import annotations

import functools
import math
import re
import types
from collections.abc import Mapping
from typing import Any

from multirerank.errors import ConfigurationError
from multirerank.types import Usage
from multirerank.vendor_spec import PRICE_UNITS, Price

__all__ = [
    "PRICE_UNITS",
    "Price",
    "check_prices",
    "cost_of",
    "cost_of_counts",
    "price_for",
    "price_key",
    "region_of",
    "table",
    "usage_line",
]

#: What a mapping given as a price may hold (``model`` and ``region`` too, as a dumped Price has
#: them: the key decides both).
_FIELDS = frozenset({"usd", "per", "source", "read", "note", "model", "region"})


@functools.cache
def table() -> Mapping[str, Price]:
    """The list prices, ``"provider/model"`` (or ``"provider/*"``) -> :class:`Price` (read-only)."""
    from multirerank.vendors import VENDORS

    found: dict[str, Price] = {}
    for spec in VENDORS.values():
        for price in spec.prices:
            where = f"@{price.region}" if price.region else ""
            found.setdefault(f"{spec.provider}/{price.model}{where}", price)
    return types.MappingProxyType(found)


def price_key(provider: str, model: str) -> str:
    """The key a backend's price is looked up by. A Bedrock ARN counts as its model id."""
    if model.startswith("arn:") and "/" in model:
        model = model.rsplit("/", 1)[1]
    return f"{provider}/{model}" if model else f"{provider}/*"


def price_for(
    provider: str,
    model: str,
    overrides: Mapping[str, Price | None] | None = None,
    *,
    region: str | None = None,
) -> Price | None:
    """The price of ``provider``'s ``model`` served in ``region``: the caller's ``overrides``
    first, then the table; ``None`` when neither has one (or the caller set ``None``: unknown)."""
    key = price_key(provider, model)
    wildcard = f"{provider}/*"
    names = (key, wildcard) if not region else (f"{key}@{region}", key, f"{wildcard}@{region}", wildcard)
    for prices in (overrides or {}, table()):
        for name in names:
            if name in prices:
                return prices[name]
    return None


def region_of(provider: str, facts: Mapping[str, Any]) -> str | None:
    """Where a backend is served, for regional prices: its ``describe()["region"]`` (AWS), or the
    region its vendor's ``regions`` table gives its ``base_url``'s host (DashScope)."""
    region = facts.get("region")
    if isinstance(region, str) and region:
        return region
    from multirerank.vendors import VENDORS

    spec = VENDORS.get(provider)
    if spec is None or not spec.regions:
        return None
    url = str(facts.get("base_url") or spec.default_base_url or "")
    host = url.split("://", 1)[-1]
    return next((name for part, name in spec.regions if part in host), None)


def cost_of(usage: Usage, price: Price | None) -> float | None:
    """``usage`` priced in US dollars. A call that sent nothing cost 0.0 whatever the price (no
    request, no bill); otherwise ``None`` when the price or the count it is charged on is unknown."""
    return cost_of_counts(vars(usage), price)


def cost_of_counts(counts: Mapping[str, Any], price: Price | None) -> float | None:
    """:func:`cost_of` for a usage given as its counts by field name (``requests`` and the
    count the price is charged on), for code that prices counts before making the Usage."""
    if counts["requests"] == 0:
        return 0.0
    if price is None or price.usd is None:
        return None
    field, per = PRICE_UNITS[price.per]
    if price.per == "free":
        return 0.0
    if not field:
        return None
    count: int | None = counts.get(field)
    if count is None:
        return None
    return price.usd * count / per


def usage_line(usage: Usage | None) -> str:
    """``usage`` in a few words, as the CLI's summary line shows it:
    ``"3 requests, 2500 documents, 27 search units, $0.054000"``; ``"cost unknown"`` without a price."""
    if usage is None:
        return "usage unknown"
    parts = [f"{usage.requests} request{'s' if usage.requests != 1 else ''}", f"{usage.documents} documents"]
    if usage.search_units is not None:
        parts.append(f"{usage.search_units} search units")
    if usage.total_tokens is not None:
        parts.append(f"{usage.total_tokens} tokens")
    if usage.cache_hits:
        parts.append(f"{usage.cache_hits} cached")
    parts.append("cost unknown" if usage.cost_usd is None else f"${usage.cost_usd:.6f}")
    return ", ".join(parts)


#: A prices key: a provider as model strings write it, a model (or ``*``) with no space at
#: either end, an optional ``@region``. A key that could never match a call is refused rather
#: than leaving the list price in force unnoticed.
_KEY = re.compile(r"[a-z0-9][a-z0-9_.-]*/(?!\s)[^@]*(?<!\s)(@[A-Za-z0-9_-]+)?")


def check_prices(value: object) -> dict[str, Price | None]:
    """The caller's ``prices=`` as ``{"provider/model": Price or None}``.

    A key may end in ``@region`` for a price that applies in that region only
    (``"dashscope/qwen3-rerank@ap-southeast-1"``). Each value is a :class:`Price`, ``None`` (price unknown: cost ``None``), or a mapping
    ``{"usd": 2.0, "per": "1k_searches"}`` (optional ``source``, ``read``, ``note``); ``per`` is a
    key of :data:`PRICE_UNITS`. Raises :class:`ConfigurationError` naming the key at fault.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            f"prices must be a mapping of 'provider/model' to a price, got {type(value).__name__}"
        )
    checked: dict[str, Price | None] = {}
    for key, given in value.items():
        if not isinstance(key, str) or _KEY.fullmatch(key) is None:
            raise ConfigurationError(
                f"prices key {key!r} must be 'provider/model' (or 'provider/*'), the provider in lower "
                "case as model strings write it, with no space around either, and an optional '@region'"
            )
        # Keyed as lookups key it: a Bedrock ARN, as users pass it for the model, is its model id.
        provider, _, rest = key.partition("/")
        model, at, region = rest.partition("@")
        checked[price_key(provider, model) + at + region] = _price(key, given)
    return checked


def _price(key: str, given: object) -> Price | None:
    if given is None:
        return None
    if isinstance(given, Price):
        fields: dict[str, Any] = {"usd": given.usd, "per": given.per}
        extra: dict[str, Any] = {"source": given.source, "read": given.read, "note": given.note}
    elif isinstance(given, Mapping):
        unknown = sorted(str(name) for name in given if name not in _FIELDS)
        if unknown:
            raise ConfigurationError(
                f"prices[{key!r}] has unknown fields {unknown}; it takes {sorted(_FIELDS)}"
            )
        if "usd" not in given or "per" not in given:
            raise ConfigurationError(
                f"prices[{key!r}] needs 'usd' and 'per', e.g. {{'usd': 2.0, 'per': '1k_searches'}}"
            )
        fields = {"usd": given["usd"], "per": given["per"]}
        extra = {name: given.get(name, "") for name in ("source", "read", "note")}
    else:
        raise ConfigurationError(
            f"prices[{key!r}] must be a Price, a mapping {{'usd': ..., 'per': ...}} or None, "
            f"got {type(given).__name__}"
        )
    usd = fields["usd"]
    if usd is not None and (
        isinstance(usd, bool) or not isinstance(usd, (int, float)) or not math.isfinite(usd) or usd < 0
    ):
        raise ConfigurationError(
            f"prices[{key!r}].usd must be a finite number of US dollars, at least 0, or None"
        )
    # A list or dict here is no unit, and would make the lookup itself raise TypeError.
    unit = fields["per"]
    if unit == "free" and usd not in (None, 0):
        raise ConfigurationError(f"prices[{key!r}] says 'free' with usd={usd!r}: give usd 0 or another unit")
    if not isinstance(unit, str) or unit not in PRICE_UNITS:
        raise ConfigurationError(
            f"prices[{key!r}].per must be one of {', '.join(PRICE_UNITS)}, got {fields['per']!r}"
        )
    if not all(isinstance(text, str) for text in extra.values()):
        raise ConfigurationError(f"prices[{key!r}]: source, read and note must be strings")
    model, _, region = key.split("/", 1)[1].partition("@")
    return Price(None if usd is None else float(usd), fields["per"], model=model, region=region, **extra)
