"""Reranking a run's candidates with each model and measuring every order against the judgements."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, Literal, TypeAlias

from multirerank.engine import Reranker
from multirerank.errors import (
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    RerankError,
    RerankInputError,
)
from multirerank.evaluation import data
from multirerank.evaluation.metrics import ir_measures, measure, paired_p_values, percentile
from multirerank.evaluation.report import BASELINE, EvaluationReport, ModelScores, QueryFailure
from multirerank.types import Usage

#: A model to evaluate: a model string, a mapping ``{"model": ..., "name": ..., **Reranker
#: options}``, or a Reranker (which stays open: the caller owns it).
ModelSpec: TypeAlias = "str | Mapping[str, Any] | Reranker"
OnError: TypeAlias = Literal["baseline", "raise"]

#: Errors that would fail every query alike: they stop the evaluation whatever ``on_error`` says.
_FATAL = (RerankInputError, ConfigurationError, AuthenticationError, NotFoundError)


def evaluate(
    models: Sequence[ModelSpec],
    *,
    dataset: str | os.PathLike[str] | None = None,
    qrels: data.Source | Mapping[str, Mapping[str, int]] | None = None,
    run: data.Source | Mapping[str, Sequence[str] | Mapping[str, float]] | None = None,
    corpus: data.Source | Mapping[str, str] | None = None,
    queries: data.Source | Mapping[str, str] | None = None,
    depth: int = 100,
    concurrency: int = 1,
    on_error: OnError = "baseline",
    progress: Callable[[int], object] | None = None,
) -> EvaluationReport:
    """Rerank each judged query's top ``depth`` candidates with every model and measure them.

    Inputs: ``dataset`` (a shipped set such as ``"household"`` or a BEIR-style folder with a
    ``run.trec``) gives all four; ``qrels``, ``run``, ``corpus`` and ``queries`` override it,
    each a file path or data in memory: ``{query: {doc: grade}}``; ``{query: [doc ids best
    first]}`` or ``{query: {doc: score}}``; ``{doc: text}``; ``{query: text}``. Without a dataset,
    ``corpus.jsonl`` and ``queries.jsonl`` are looked for beside the qrels file and in its parent
    folder. File formats: :mod:`multirerank.evaluation.data`.

    Returns an :class:`EvaluationReport`: the retrieval order's row first, then one per model in
    the order given, each with nDCG@10, MRR@10, Recall@100 and MAP (ir-measures, i.e. trec_eval's
    definitions; every row over the same queries and the same ``depth`` candidates), latency
    p50/p95 per query call (seconds; the first call, which loads a model or opens connections,
    apart as ``latency_first``), requests, documents and cost in US dollars, and each metric's
    p-value against the retrieval order (paired t-test over queries).

    A query's call that fails (after the engine's retries) is recorded in its row's
    ``failures`` and that query keeps the retrieval order, as a pipeline that skips a failed
    reranker would; ``on_error="raise"`` re-raises the first failure instead. Input,
    configuration, authentication and not-found errors always stop the evaluation. ``concurrency``
    queries are reranked at once per model (threads), default 1, so latencies are not inflated by
    queueing. ``progress`` is called with 1 after each query's call.

    Raises RerankInputError for unreadable or inconsistent inputs (naming the file and line, or
    the query and document), ConfigurationError for a bad model or a missing ``eval`` extra.
    """
    if isinstance(models, (str, Mapping, Reranker)) or not isinstance(models, Sequence):
        raise ConfigurationError("models must be a list of model strings, mappings or Rerankers")
    if not models:
        raise ConfigurationError("evaluate needs at least one model")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ConfigurationError(f"depth must be a whole number of at least 1, got {depth!r}")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigurationError(f"concurrency must be a whole number of at least 1, got {concurrency!r}")
    if on_error not in ("baseline", "raise"):
        raise ConfigurationError(f"on_error must be 'baseline' or 'raise', got {on_error!r}")
    judged, ranked, corpus, queries = _inputs(dataset, qrels, run, corpus, queries)
    measured = sorted(query for query in ranked if query in judged)
    if not measured:
        raise RerankInputError("no query of the run has judgements in the qrels: do their query ids match?")
    candidates = {query: list(ranked[query][:depth]) for query in measured}
    # Only the candidates' texts are kept: a BEIR corpus may hold millions of passages.
    needed = {doc for docs in candidates.values() for doc in docs}
    texts = corpus if isinstance(corpus, Mapping) else data.read_corpus(corpus, keep=needed)
    questions = queries if isinstance(queries, Mapping) else data.read_queries(queries, keep=set(measured))
    _check_texts(candidates, texts, questions)
    names = _names(models)
    ir_measures()  # a missing extra is found before any paid call
    rankings: dict[str, dict[str, list[str]]] = {BASELINE: candidates}
    timings: dict[str, tuple[list[float | None], Usage, list[QueryFailure]]] = {}
    with ExitStack() as owned:
        # Every model is built before any is called: a bad setting costs no call.
        rerankers = [_reranker(spec, owned) for spec in models]
        for name, reranker in zip(names, rerankers, strict=True):
            order, seconds, usage, failures = _rerank_all(
                reranker, candidates, texts, questions, concurrency, on_error, progress
            )
            rankings[name] = order
            timings[name] = (seconds, usage, failures)
    figures = measure({query: judged[query] for query in measured}, rankings)
    rows = [ModelScores(BASELINE, *figures[BASELINE])]
    for name in names:
        seconds, usage, failures = timings[name]
        # The first call pays for loading a model or opening connections, once per process:
        # kept apart so that it does not stand for every query's latency.
        first, steady = (seconds[0], seconds[1:]) if len(seconds) > 1 else (None, seconds)
        rows.append(
            ModelScores(
                name,
                *figures[name],
                latency_p50=percentile([value for value in steady if value is not None], 0.50),
                latency_p95=percentile([value for value in steady if value is not None], 0.95),
                latency_first=first,
                p_values=paired_p_values(figures[name][1], figures[BASELINE][1]),
                requests=usage.requests,
                documents=usage.documents,
                cost_usd=usage.cost_usd,
                failures=failures,
            )
        )
    return EvaluationReport(
        rows=rows,
        depth=depth,
        queries=len(measured),
        unjudged=sum(query not in judged for query in ranked),
        missing=sum(query not in ranked for query in judged),
        rankings=rankings,
    )


def _inputs(
    dataset: str | os.PathLike[str] | None,
    qrels: Any,
    run: Any,
    corpus: Any,
    queries: Any,
) -> tuple[Mapping[str, Mapping[str, int]], Mapping[str, Sequence[str]], Any, Any]:
    """Judgements and run read; the texts' sources (a mapping or a path) found, not yet read."""
    shapes = {
        "qrels": (qrels, "{query: {doc: grade}}"),
        "run": (run, "{query: [doc ids]} or {query: {doc: score}}"),
        "corpus": (corpus, "{doc: text}"),
        "queries": (queries, "{query: text}"),
    }
    for argument, (value, shape) in shapes.items():
        if value is not None:
            data.check_source(value, argument, shape)
    files = data.dataset_files(dataset) if dataset is not None else None
    qrels = qrels if qrels is not None else (files.qrels if files else None)
    run = run if run is not None else (files.run if files else None)
    if qrels is None or run is None:
        raise ConfigurationError("evaluate needs qrels and a run (or a dataset holding both)")
    if corpus is None:
        corpus = files.corpus if files else _beside(qrels, "corpus.jsonl", "corpus")
    if queries is None:
        queries = files.queries if files else _beside(qrels, "queries.jsonl", "queries")
    return (
        data.checked_qrels(qrels) if isinstance(qrels, Mapping) else data.read_qrels(qrels),
        data.ordered(run) if isinstance(run, Mapping) else data.read_run(run),
        data.checked_texts(corpus, "corpus") if isinstance(corpus, Mapping) else corpus,
        data.checked_texts(queries, "queries") if isinstance(queries, Mapping) else queries,
    )


def _beside(qrels: Any, name: str, field: str) -> Any:
    found = None if isinstance(qrels, Mapping) else data.beside(qrels, name)
    if found is None:
        raise ConfigurationError(
            f"no {field} given and no {name} beside the qrels file: pass {field}= (--{field} in the command)"
        )
    return found


def _check_texts(
    candidates: Mapping[str, Sequence[str]], texts: Mapping[str, str], questions: Mapping[str, str]
) -> None:
    """Every query and candidate has a text a reranker can be sent (not blank, UTF-8 encodable),
    so that a problem names its id rather than a position in one call."""
    for query, docs in candidates.items():
        if query not in questions:
            raise RerankInputError(f"query {query!r} of the run has no text in the queries")
        problem = _text_problem(questions[query])
        if problem is not None:
            raise RerankInputError(f"query {query!r}: its text {problem}")
        for doc in docs:
            if doc not in texts:
                raise RerankInputError(f"document {doc!r} (run, query {query!r}) is not in the corpus")
            problem = _text_problem(texts[doc])
            if problem is not None:
                raise RerankInputError(
                    f"document {doc!r} (run, query {query!r}): its text in the corpus {problem}"
                )


def _text_problem(text: str) -> str | None:
    if not text.strip():
        return "is blank"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "has a lone surrogate, which UTF-8 cannot encode"
    return None


def _names(models: Sequence[ModelSpec]) -> list[str]:
    """Each row's name: the model string, a mapping's ``name`` (else its model), or the
    Reranker's ``provider/model``; a repeated name gets ``#2``, ``#3``..."""
    names: list[str] = []
    for index, spec in enumerate(models):
        if isinstance(spec, Reranker):
            name = f"{spec.provider}/{spec.model}"
        elif isinstance(spec, str):
            name = spec
        elif isinstance(spec, Mapping) and isinstance(spec.get("name", spec.get("model")), str):
            name = str(spec.get("name", spec.get("model")))
        else:
            raise ConfigurationError(
                f"models[{index}] must be a model string, a mapping with a 'model' string or a Reranker"
            )
        if name == BASELINE or name in names:
            name = next(f"{name}#{n}" for n in range(2, len(models) + 3) if f"{name}#{n}" not in names)
        names.append(name)
    return names


def _reranker(spec: ModelSpec, owned: ExitStack) -> Reranker:
    if isinstance(spec, Reranker):
        return spec
    if isinstance(spec, str):
        return owned.enter_context(Reranker(spec))
    options = {key: value for key, value in spec.items() if key not in ("model", "name")}
    return owned.enter_context(Reranker(spec["model"], **options))


def _rerank_all(
    reranker: Reranker,
    candidates: Mapping[str, Sequence[str]],
    texts: Mapping[str, str],
    questions: Mapping[str, str],
    concurrency: int,
    on_error: OnError,
    progress: Callable[[int], object] | None,
) -> tuple[dict[str, list[str]], list[float | None], Usage, list[QueryFailure]]:
    """Each query's order, each call's seconds in query order (None: it failed), the summed
    usage and the failures."""

    def one(query: str) -> tuple[list[str], float | None, Usage, QueryFailure | None]:
        docs = candidates[query]
        started = time.perf_counter()
        try:
            response = reranker.rerank(questions[query], [texts[doc] for doc in docs], None)
        except _FATAL:
            raise
        except RerankError as error:
            if on_error == "raise":
                raise
            failure = QueryFailure(query, type(error).__name__, " ".join(str(error).split()))
            return list(docs), None, error.usage or Usage(), failure
        finally:
            if progress is not None:
                progress(1)
        seconds = time.perf_counter() - started
        order = [docs[result.index] for result in response.results]
        # Documents the engine did not send (blank texts) follow in the retrieval order.
        returned = set(order)
        order += [doc for doc in docs if doc not in returned]
        return order, seconds, response.usage or Usage(), None

    queries = list(candidates)
    # The first query goes alone, so the cold start it pays is its own.
    answers = [one(queries[0])]
    if concurrency == 1:
        answers += [one(query) for query in queries[1:]]
    else:
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="multirerank-evaluate")
        try:
            answers += pool.map(one, queries[1:])
        finally:
            # After an error that stops the evaluation, queries not started yet are not sent.
            pool.shutdown(wait=True, cancel_futures=True)
    usage = Usage()
    for _, _, used, _ in answers:
        usage = usage + used
    return (
        {query: order for query, (order, _, _, _) in zip(queries, answers, strict=True)},
        [seconds for _, seconds, _, _ in answers],
        usage,
        [failure for _, _, _, failure in answers if failure is not None],
    )
