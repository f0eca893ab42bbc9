"""A call through a :class:`~multirerank.routing.Router`: the routes are tried in the strategy's
order, and a failure worth moving on for sends the whole call to the next one."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from multirerank.backends.base import Backend
from multirerank.engine.inputs import Plan, plan_call
from multirerank.errors import RerankError, RerankInputError
from multirerank.redaction import module_logger
from multirerank.routing import Attempt, Route, Router
from multirerank.tracing import fell_back
from multirerank.types import RerankResponse, Usage

if TYPE_CHECKING:
    from multirerank.engine.reranker import Reranker

logger = module_logger(__name__)

#: Called with the number of documents each finished request carried (for progress bars).
ProgressCallback = Callable[[int], None]


# Not frozen: a frozen dataclass sets each field through object.__setattr__, and one is made
# per call; nothing changes a Call after it is made.
@dataclass(slots=True)
class Call:
    """One rerank call's arguments, as the caller gave them: each route plans them by its limits."""

    query: object
    documents: object
    top_n: object
    score_threshold: object
    ids: object
    skip_blank: bool
    return_documents: bool
    progress: ProgressCallback | None

    def __post_init__(self) -> None:
        # Checked before anything is sent: "false" is truthy, and a progress that cannot be
        # called would fail only after the first request came back.
        for name, value in (("return_documents", self.return_documents), ("skip_blank", self.skip_blank)):
            if value is not True and value is not False:
                raise RerankInputError(f"{name} must be True or False, got {type(value).__name__}")
        if self.progress is not None and not callable(self.progress):
            raise RerankInputError(
                f"progress must be a function taking a count of documents (or None), "
                f"got {type(self.progress).__name__}"
            )

    def plan(self, backend: Backend, concurrency: int = 1) -> Plan:
        """The call checked and split for ``backend``, with ``concurrency`` requests in flight."""
        return plan_call(
            backend,
            self.query,
            self.documents,
            self.top_n,
            self.score_threshold,
            ids=self.ids,
            skip_blank=self.skip_blank,
            concurrency=concurrency,
        )


def is_router(backend: Backend) -> bool:
    # The class's MRO, read in C: isinstance against an ABC runs Python-level code every call.
    return Router in type(backend).__mro__


def run_routed(reranker: Reranker, call: Call, until: float | None) -> RerankResponse:
    """The call, served whole by the first route that answers; raises the last route's error,
    with ``attempts`` listing every failed one. ``usage`` (the response's or the error's) sums
    what every route tried billed: a failed route's answered requests are paid for too."""
    router: Router = reranker.backend  # type: ignore[assignment]
    attempts: list[Attempt] = []
    spent = Usage()
    order = router.order()
    for number, route in enumerate(order):
        twin = reranker.for_route(
            route.backend, router.limits_of(route), normalize=router.normalizes, last=number == len(order) - 1
        )
        started = time.monotonic()
        state = router.started(route)
        try:
            response = twin._run(call, until)
        except RerankError as error:
            router.finished(state, ok=_verdict(router, error), seconds=time.monotonic() - started)
            spent = spent + (error.usage or Usage())
            error.usage = spent
            _move_on_or_raise(router, route, error, attempts, last=number == len(order) - 1, until=until)
            continue
        except BaseException:
            router.finished(state, ok=None, seconds=time.monotonic() - started)
            raise
        router.finished(state, ok=True, seconds=time.monotonic() - started)
        return _served(response, route, attempts, spent)
    raise AssertionError("unreachable")  # pragma: no cover


async def arun_routed(reranker: Reranker, call: Call, until: float | None) -> RerankResponse:
    """The non-blocking twin of :func:`run_routed`."""
    router: Router = reranker.backend  # type: ignore[assignment]
    attempts: list[Attempt] = []
    spent = Usage()
    order = router.order()
    for number, route in enumerate(order):
        twin = reranker.for_route(
            route.backend, router.limits_of(route), normalize=router.normalizes, last=number == len(order) - 1
        )
        started = time.monotonic()
        state = router.started(route)
        try:
            response = await twin._arun_within(call, until)
        except RerankError as error:
            router.finished(state, ok=_verdict(router, error), seconds=time.monotonic() - started)
            spent = spent + (error.usage or Usage())
            error.usage = spent
            _move_on_or_raise(router, route, error, attempts, last=number == len(order) - 1, until=until)
            continue
        except BaseException:
            # Cancelled (a deadline, the caller): the route did not fail.
            router.finished(state, ok=None, seconds=time.monotonic() - started)
            raise
        router.finished(state, ok=True, seconds=time.monotonic() - started)
        return _served(response, route, attempts, spent)
    raise AssertionError("unreachable")  # pragma: no cover


def _verdict(router: Router, error: RerankError) -> bool | None:
    """A failure the route is to blame for counts toward its cooldown; bad input does not."""
    return False if router.moves_on(error) else None


def _move_on_or_raise(
    router: Router,
    route: Route,
    error: RerankError,
    attempts: list[Attempt],
    *,
    last: bool,
    until: float | None,
) -> None:
    attempts.append(
        Attempt(route.backend.provider, route.backend.model, type(error).__name__, error.status, error.message)
    )
    out_of_time = until is not None and time.monotonic() >= until
    if last or out_of_time or not router.moves_on(error):
        error.attempts = [attempt.as_dict() for attempt in attempts]
        raise error
    fell_back(route.name, error)
    logger.warning(
        "route %s failed (%s%s); moving the call to the next route",
        route.name,
        type(error).__name__,
        f", status {error.status}" if error.status is not None else "",
    )


def _served(
    response: RerankResponse, route: Route, attempts: Sequence[Attempt], spent: Usage
) -> RerankResponse:
    metadata: dict[str, Any] = {
        **response.metadata,
        "route": route.name,
        "attempts": [attempt.as_dict() for attempt in attempts],
    }
    usage = spent + response.usage if response.usage is not None else spent
    return dataclasses.replace(response, metadata=metadata, usage=usage)
