"""Routing: one call served by one of several backends, chosen by a strategy, moving on when a
route fails.

A :class:`Router` is a backend made of other backends (routes), usable wherever a backend is.
The engine runs a routed call one route at a time: the route's own limits split the list, its
own retries run, and if it still fails with an error worth moving on for, the whole call goes to
the next route. Scores of different routes are never merged, so every answer comes from one model.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from pydantic import SecretStr

from multirerank.backends.base import Backend
from multirerank.errors import (
    AuthenticationError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankError,
    RerankInputError,
    ThrottledError,
)
from multirerank.health import ROUTE_HEALTH, Cooldown, RouteCall
from multirerank.types import BatchResult, DocumentInput

if TYPE_CHECKING:
    from multirerank.ratelimit import RateLimit

Strategy = Literal["fallback", "weighted", "least-busy", "lowest-latency"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)

#: What moves a call to the next route by default: the vendor throttled, failed (5xx, timeouts,
#: dropped connections), lost the model, refused the credentials, or answered garbage. Bad input
#: never moves on: it would fail everywhere.
DEFAULT_FALLBACK_ON: tuple[type[RerankError], ...] = (
    ThrottledError,
    ProviderError,
    NotFoundError,
    AuthenticationError,
    MalformedResponseError,
)

#: What a route may be given as: a model string, a mapping with "model" and options, or a backend.
RouteSpec = str | Mapping[str, Any] | Backend

# Facts of describe() that tell two deployments of one model apart.
_WHERE = ("base_url", "region", "api_format", "path", "endpoint")


@dataclass(frozen=True, eq=False)
class Route:
    """One backend of a router, with its share of the traffic and its own rate limit.

    ``key`` identifies the deployment (provider, model, endpoint and a hash of the credentials),
    so every router in the process that reaches the same deployment shares its health and limits.
    """

    backend: Backend
    weight: float = 1.0
    rate_limit: str | Mapping[str, str] | None = None
    owned: bool = False
    key: Hashable = field(default=None)

    @property
    def name(self) -> str:
        """``provider/model``, as responses and attempts name it."""
        model = self.backend.model
        return f"{self.backend.provider}/{model}" if model else self.backend.provider


@dataclass(frozen=True)
class Attempt:
    """One route's failed attempt at a call, as ``response.metadata["attempts"]`` lists it."""

    provider: str
    model: str
    error: str
    status: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "error": self.error,
            "status": self.status,
            "message": self.message,
        }


class Router(Backend):
    """A backend made of routes; each call is served whole by one of them.

    ``routes``: model strings (``"cohere/rerank-v3.5"``), mappings ``{"model": "<model string>",
    "weight": 1.0, "rate_limit": "100/minute", **backend options}``, or backends. ``strategy``
    orders the routes for each call: ``"fallback"`` (as given), ``"weighted"`` (the first drawn
    by ``weight``), ``"least-busy"`` (fewest calls in flight), ``"lowest-latency"`` (moving
    average of each route's latency); every strategy then falls back to the others in order. A
    route that failed ``allowed_fails`` times within ``cooldown_seconds`` is skipped for
    ``cooldown_seconds``, then tried with one call. ``fallback_on`` lists the error types that
    move a call on. ``rate_limit_storage`` (``"redis://host:port/db"``) shares the routes' rate
    limits across processes. When the routes' score scales differ, every answer is normalised to
    0..1 (``score_scale == "probability"``). Raises :class:`ConfigurationError` for a route it
    cannot build or an unknown strategy.
    """

    provider = "router"

    def __init__(
        self,
        routes: Sequence[RouteSpec],
        *,
        strategy: Strategy = "fallback",
        cooldown_seconds: float = 30.0,
        allowed_fails: int = 3,
        fallback_on: Iterable[type[RerankError]] = DEFAULT_FALLBACK_ON,
        rate_limit_storage: str | None = None,
        seed: int | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigurationError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
        if isinstance(routes, (str, Mapping, Backend)) or not isinstance(routes, Sequence) or not routes:
            raise ConfigurationError("routes must be a non-empty list of model strings, mappings or backends")
        if isinstance(cooldown_seconds, bool) or not isinstance(cooldown_seconds, (int, float)) or cooldown_seconds < 0:
            raise ConfigurationError("cooldown_seconds must be a number of seconds, at least 0")
        if isinstance(allowed_fails, bool) or not isinstance(allowed_fails, int) or allowed_fails < 1:
            raise ConfigurationError("allowed_fails must be an integer, at least 1")
        kinds = tuple(fallback_on)
        if not all(isinstance(kind, type) and issubclass(kind, RerankError) for kind in kinds):
            raise ConfigurationError("fallback_on must list RerankError types")
        self.strategy: Strategy = strategy
        self.cooldown_seconds = float(cooldown_seconds)
        self.allowed_fails = allowed_fails
        self.fallback_on = kinds
        self.rate_limit_storage = rate_limit_storage
        self._random = random.Random(seed)
        built: list[Route] = []
        try:
            for position, spec in enumerate(routes):
                built.append(_route(spec, position))
        except BaseException:
            for route in built:
                if route.owned:
                    route.backend.close()
            raise
        self.routes: tuple[Route, ...] = tuple(built)
        scales = {route.backend.score_scale for route in built}
        #: Whether answers are normalised, the routes' scales differing.
        self.normalizes = len(scales) > 1
        self.score_scale = "probability" if self.normalizes else next(iter(scales))
        self.model = ",".join(route.name for route in built)
        self.max_concurrency = max(route.backend.max_concurrency for route in built)
        self._cooldown = Cooldown(allowed_fails, float(cooldown_seconds))
        self._limits: dict[int, tuple[RateLimit, ...]] = {
            id(route): (
                (rate_limit_of(route.rate_limit, rate_limit_storage, route.backend),)
                if route.rate_limit
                else ()
            )
            for route in built
        }

    def order(self) -> list[Route]:
        """The routes to try for one call, best first by the strategy. Routes cooling down are
        left out while any other is available; when none is, they are tried anyway, the one whose
        cooldown ends first first, rather than failing a call without asking anyone."""
        routes = list(self.routes)
        states = {route.key: ROUTE_HEALTH.get(route.key) for route in routes}
        if self.strategy == "weighted":
            first = routes.pop(self.draw([route.weight for route in routes]))
            routes.insert(0, first)
        elif self.strategy == "least-busy":
            routes.sort(key=lambda route: states[route.key].in_flight)
        elif self.strategy == "lowest-latency":
            # A route never measured goes first, so every route gets measured.
            routes.sort(key=lambda route: states[route.key].latency or 0.0)
        available = [route for route in routes if states[route.key].available()]
        if available:
            return available
        return sorted(routes, key=lambda route: states[route.key].cooling_until or 0.0)

    def limits_of(self, route: Route) -> tuple[RateLimit, ...]:
        """The client-side rate limits every request on ``route`` waits for."""
        return self._limits[id(route)]

    def started(self, route: Route) -> RouteCall | None:
        """Count a call on ``route`` (in flight, and as the probe after a cooldown)."""
        return ROUTE_HEALTH.get(route.key).begin(self._cooldown)

    def finished(self, call: RouteCall | None, *, ok: bool | None, seconds: float) -> None:
        """Record how a call on a route ended: served, failed (toward a cooldown), or neither."""
        if call is not None:
            call.end(ok, seconds)

    def moves_on(self, error: BaseException) -> bool:
        """Whether ``error`` from one route sends the call to the next. Bad input never does,
        whatever ``fallback_on`` lists (``RerankError`` itself, say): it would fail everywhere, and
        it is no route's failure."""
        return isinstance(error, self.fallback_on) and not isinstance(error, RerankInputError)

    def draw(self, weights: Sequence[float]) -> int:
        """An index drawn with probability proportional to ``weights``."""
        return self._random.choices(range(len(weights)), weights=weights)[0]

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        raise TypeError("a Router serves whole calls: run it through a Reranker, not rerank_batch")

    def secrets(self) -> list[Any]:
        return [secret for route in self.routes for secret in route.backend.secrets()]

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "routes": [route.name for route in self.routes]}

    def close(self) -> None:
        for route in self.routes:
            if route.owned:
                route.backend.close()

    async def aclose(self) -> None:
        for route in self.routes:
            if route.owned:
                await route.backend.aclose()

    def __repr__(self) -> str:
        return f"Router({[route.name for route in self.routes]!r}, strategy={self.strategy!r})"


def _route(spec: RouteSpec, position: int) -> Route:
    if isinstance(spec, Backend):
        if isinstance(spec, Router):
            raise ConfigurationError(f"routes[{position}] is a Router; list its routes instead")
        return Route(spec, key=route_key(spec))
    if isinstance(spec, str):
        from multirerank.registry import backend_from_model

        try:
            backend = backend_from_model(spec)
        except ConfigurationError as error:
            raise ConfigurationError(f"routes[{position}]: {error.message}", provider=error.provider) from None
        return Route(backend, owned=True, key=route_key(backend))
    if isinstance(spec, Mapping):
        options = dict(spec)
        model = options.pop("model", None)
        if not isinstance(model, str):
            raise ConfigurationError(f"routes[{position}] needs a 'model' string")
        weight = options.pop("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < 1e100:
            raise ConfigurationError(f"routes[{position}].weight must be a positive, finite number")
        rate_limit = options.pop("rate_limit", None)
        from multirerank.registry import backend_from_model

        try:
            backend = backend_from_model(model, **options)
        except ConfigurationError as error:
            raise ConfigurationError(f"routes[{position}]: {error.message}", provider=error.provider) from None
        return Route(backend, float(weight), rate_limit, owned=True, key=route_key(backend))
    raise ConfigurationError(
        f"routes[{position}] must be a model string, a mapping or a Backend, got {type(spec).__name__}"
    )


def check_fallback_instructions(router: Router) -> None:
    """Refuse ``Reranker(..., fallbacks=[...])`` whose fallbacks score under another instruction
    than the first model (a ConfigurationError naming the fallback, after closing the routes the
    router built): a fallback that took over would silently score without it."""
    first, *others = router.routes
    wanted = first.backend.instruction
    for position, route in enumerate(others):
        if route.backend.instruction == wanted:
            continue
        router.close()
        given = (
            "without the instruction"
            if route.backend.instruction is None
            else "under another instruction than the one"
        )
        raise ConfigurationError(
            f"fallbacks[{position}] ({route.name}) would score {given} {first.name} is given; "
            "every model of a fallback chain must take the same instruction: give it instruction= "
            "too (a mapping {'model': ..., 'instruction': ...}) where its model takes one, or leave "
            "instruction unset"
            if wanted is not None
            else f"fallbacks[{position}] ({route.name}) has an instruction that {first.name} is not "
            "given; give every model of a fallback chain the same instruction"
        )


def rate_limit_of(spec: str | Mapping[str, str], storage: str | None, backend: Backend) -> RateLimit:
    """The client-side rate limit ``spec`` for requests to ``backend``, shared in the process (and
    through ``storage``) by every router and reranker reaching the same deployment (its
    :func:`route_key`). The limits library loads only here."""
    from multirerank.ratelimit import RateLimit

    return RateLimit.parse(spec, key=repr(route_key(backend)), storage=storage)


def route_key(backend: Backend) -> Hashable:
    """What identifies a deployment: provider, model, where it is, and whose credentials (hashed,
    so the key can be shown or stored without them)."""
    facts = backend.describe()
    where = tuple((name, str(facts[name])) for name in _WHERE if facts.get(name) is not None)
    digest = hashlib.sha256()
    values = [value.get_secret_value() if isinstance(value, SecretStr) else value for value in backend.secrets()]
    for secret in sorted(value for value in values if value):
        digest.update(secret.encode("utf-8", "replace") + b"\0")
    return (backend.provider, backend.model, where, digest.hexdigest()[:16])

