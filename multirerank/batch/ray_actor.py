"""Ray Data's entry point: a callable class for ``Dataset.map_batches``, one reranker per actor.

::

    ds.map_batches(
        RerankBatch,
        fn_constructor_kwargs={"model": "cohere/rerank-v3.5", "rate_limit": "600/minute",
                               "rate_limit_storage": "redis://redis:6379/0"},
        compute=ray.data.ActorPoolStrategy(size=4),  # actors
        batch_format="pyarrow",   # or "pandas"; "numpy" works too
    )

Ray builds the class once per actor; each batch then runs through that actor's
:class:`~multirerank.batch.BatchReranker` (its event loop, clients and connections kept between
batches). Ray itself is not imported here: the class is plain Python that Ray instantiates.

Rate limits across actors: with ``rate_limit_storage="redis://..."`` every actor counts against
the same windows in Redis (:mod:`multirerank.ratelimit`), so ``rate_limit`` is the vendor's
limit for the whole job. Without shared storage each actor can only count its own requests:
``actors=N`` (the size of the actor pool given to ``map_batches``) then gives each actor ``1/N``
of each limit, rounded down; a ``rate_limit`` with neither is refused, as it would let N actors send N
times the limit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from multirerank.batch.runner import DEFAULT_CONCURRENCY, BatchReranker, OnError
from multirerank.errors import ConfigurationError
from multirerank.types import Usage

MODES = ("pairs", "groups")


class RerankBatch:
    """``map_batches`` callable: each batch (pyarrow Table, pandas DataFrame or dict of numpy
    arrays) comes back as the same kind with the result columns of
    :func:`~multirerank.batch.rerank_pairs` (``mode="pairs"``) or
    :func:`~multirerank.batch.rerank_groups` (``mode="groups"``).

    ``model`` is a model string; ``concurrency`` bounds the requests in flight per actor;
    ``actors`` shares ``rate_limit`` among that many actors when there is no
    ``rate_limit_storage`` (see the module's docstring); ``columns`` are the functions' column
    and error options (``query_column``, ``text_column``, ``id_column``, ``candidates_column``,
    ``text_key``, ``top_n``, ``on_error``); ``row_column`` names a column of each row's number
    in the whole dataset, which errors name rows by (else by their place in the batch);
    ``usage_sink`` is a Ray actor handle whose
    ``add`` method is sent each batch's usage as a dict of :class:`~multirerank.Usage`'s
    fields (``multirerank batch --ray`` sums them for its summary); every other keyword goes to the
    :class:`~multirerank.Reranker` (``api_key``, ``base_url``, ``cache``...). Raises
    :class:`ConfigurationError` for a setting it cannot use, in the driver when the object is
    built there and in the actor otherwise.
    """

    def __init__(
        self,
        model: str,
        *,
        mode: str = "pairs",
        concurrency: int = DEFAULT_CONCURRENCY,
        actors: int | None = None,
        rate_limit: str | Mapping[str, str] | None = None,
        rate_limit_storage: str | None = None,
        query_column: str = "query",
        text_column: str = "text",
        id_column: str | None = None,
        candidates_column: str = "candidates",
        text_key: str = "text",
        top_n: int | None = None,
        on_error: OnError = "raise",
        row_column: str | None = None,
        usage_sink: Any = None,
        **reranker_options: Any,
    ) -> None:
        if mode not in MODES:
            raise ConfigurationError(f"mode must be 'pairs' or 'groups', got {mode!r}")
        if rate_limit is not None and rate_limit_storage is None:
            rate_limit = actor_share(rate_limit, actors)
        self.mode = mode
        self.usage_sink = usage_sink
        self.batch = BatchReranker(
            model,
            concurrency=concurrency,
            rate_limit=rate_limit,
            rate_limit_storage=rate_limit_storage,
            **reranker_options,
        )
        if mode == "pairs":
            self.options: dict[str, Any] = {
                "query_column": query_column,
                "text_column": text_column,
                "id_column": id_column,
                "on_error": on_error,
                "row_column": row_column,
            }
        else:
            self.options = {
                "query_column": query_column,
                "candidates_column": candidates_column,
                "text_key": text_key,
                "top_n": top_n,
                "on_error": on_error,
                "row_column": row_column,
            }

    def __call__(self, batch: Any) -> Any:
        before = self.batch.usage
        if self.mode == "pairs":
            result = self.batch.rerank_pairs(batch, **self.options)
        else:
            result = self.batch.rerank_groups(batch, **self.options)
        if self.usage_sink is not None:
            import ray

            # Waited for, so that a total asked for after the last batch came back includes it.
            ray.get(self.usage_sink.add.remote(dataclasses.asdict(usage_since(before, self.batch.usage))))
        return result

    def close(self) -> None:
        """Close the reranker (Ray ends an actor's process without calling it; nothing is lost
        then: a score cache commits every call's scores as it finishes)."""
        self.batch.close()


def usage_since(before: Usage, after: Usage) -> Usage:
    """What ``after`` counts beyond ``before`` (a batch's share of an actor's running total)."""
    cost = None
    if after.cost_usd is not None and (before.cost_usd is not None or before.requests == 0):
        cost = after.cost_usd - (before.cost_usd or 0.0)
    return Usage(
        total_tokens=_minus(after.total_tokens, before.total_tokens),
        search_units=_minus(after.search_units, before.search_units),
        requests=after.requests - before.requests,
        documents=after.documents - before.documents,
        cost_usd=cost,
        cache_hits=after.cache_hits - before.cache_hits,
        cache_misses=after.cache_misses - before.cache_misses,
    )


def _minus(after: int | None, before: int | None) -> int | None:
    return None if after is None else after - (before or 0)


def actor_share(rate_limit: str | Mapping[str, str], actors: int | None) -> str | dict[str, str]:
    """Each of ``actors`` actors' share of ``rate_limit``: every limit's amount divided by
    ``actors``, rounded down (``"100/minute"`` for 4 actors: ``"25 per 1 minute"``).

    Raises :class:`ConfigurationError` without ``actors`` (the limit would hold per actor, not
    for the job), or when a limit is smaller than the number of actors.
    """
    if actors is None:
        raise ConfigurationError(
            "rate_limit across Ray actors needs rate_limit_storage='redis://...' (one limit shared by "
            "every actor) or actors=N, the map_batches concurrency (each actor then takes 1/N of it)"
        )
    if isinstance(actors, bool) or not isinstance(actors, int) or actors < 1:
        raise ConfigurationError(f"actors must be an integer of at least 1, got {actors!r}")
    from limits import parse_many

    from multirerank.ratelimit import RateLimit

    RateLimit.parse(rate_limit, key="check")  # the usual errors, naming rate_limit
    entries = {"requests": rate_limit} if isinstance(rate_limit, str) else dict(rate_limit)
    shared: dict[str, str] = {}
    for kind, spec in entries.items():
        parts = []
        for item in parse_many(spec):
            if item.amount < actors:
                raise ConfigurationError(
                    f"rate_limit {spec!r} is too small to share among {actors} actors; use "
                    "rate_limit_storage='redis://...' so that they share one limit"
                )
            parts.append(f"{item.amount // actors} per {item.multiples} {item.GRANULARITY.name}")
        shared[kind] = ";".join(parts)
    return shared["requests"] if isinstance(rate_limit, str) else shared
