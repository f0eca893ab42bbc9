"""The local backend's token-level pieces: templates, sentence-aligned passages, token-budget
batches, and the choice of device, precision and threads. No model runs here."""

from __future__ import annotations

import itertools
import math
import random
from typing import Any

import pytest

from multirerank.backends import local_device
from multirerank.backends.local import default_model_dir
from multirerank.backends.local_passages import (
    CALL_TOKENS,
    Template,
    passage_token_spans,
    sentence_starts,
    token_batches,
)

TEXT = (
    "Winters are long here. The market sells cheese and fish! Who built the bridge? "
    "Nobody remembers, though the records of the harbour master go back a century. "
    "Ferries cross twice a day."
)


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(default_model_dir())


def test_template_adds_the_special_tokens_the_tokenizer_adds(tokenizer: Any) -> None:
    template = Template.from_tokenizer(tokenizer)
    assert template is not None
    query, document = "who built the bridge", "the records of the harbour go back a century"
    ids = tokenizer(document, add_special_tokens=False)["input_ids"]
    query_ids = tokenizer(query, add_special_tokens=False)["input_ids"]
    single, pair = tokenizer(document), tokenizer(query, document)

    assert template.wrap(ids) == (single["input_ids"], single["token_type_ids"])
    assert template.wrap_pair(query_ids, ids) == (pair["input_ids"], pair["token_type_ids"])
    assert template.single_length() == 2
    assert template.pair_length() == 3


def test_an_unreadable_tokenizer_has_no_template() -> None:
    def broken(*args: object, **kwargs: object) -> dict[str, list[int]]:
        return {"input_ids": []}

    assert Template.from_tokenizer(broken) is None


def test_sentence_starts_follow_sentence_ends(tokenizer: Any) -> None:
    encoding = tokenizer(TEXT, add_special_tokens=False, return_offsets_mapping=True)
    starts = sentence_starts(TEXT, encoding["offset_mapping"], encoding.word_ids())

    opened = [TEXT[encoding["offset_mapping"][token][0] :].split()[0] for token in starts]
    assert opened == ["The", "Who", "Nobody", "Ferries"]


@pytest.mark.parametrize(("window", "stride"), [(8, 6), (12, 9), (16, 8), (30, 30), (5, 1)])
def test_passages_cover_every_token_overlap_and_fit(tokenizer: Any, window: int, stride: int) -> None:
    text = " ".join([TEXT] * 3)
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    words = encoding.word_ids()
    sentences = sentence_starts(text, encoding["offset_mapping"], words)
    count = len(words)
    spans = passage_token_spans(count, window, stride, sentences, words)

    assert spans[0][0] == 0 and spans[-1][1] == count
    assert all(end - start <= window for start, end in spans)
    for (start, end), (next_start, next_end) in itertools.pairwise(spans):
        assert start < next_start <= end < next_end  # moving forward with no gap
        # Passages meet only where a sentence starts; inside a sentence they overlap.
        assert next_start < end or end in sentences
        assert words[end] != words[end - 1]  # cut between words
    # Where a sentence ends in the second half of a window (past the last passage), it ends there.
    previous_end = 0
    for start, end in spans[:-1]:
        if any(max(start + window // 2, previous_end + 1) <= token <= start + window for token in sentences):
            assert end in sentences
        previous_end = end


def test_a_text_that_fits_is_one_passage() -> None:
    assert passage_token_spans(10, 10, 5, [4], list(range(10))) == [(0, 10)]


def test_token_batches_stay_within_the_budget_longest_first() -> None:
    lengths = [5, 50, 1, 20, 20, 7, 300, 3, 3, 3]
    batches = token_batches(lengths, batch_tokens=64, batch_size=3)

    flat = [index for batch in batches for index in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[index] for index in flat] == sorted(lengths, reverse=True)
    assert batches[0] == [6]  # over the budget: alone
    for batch in batches[1:]:
        assert len(batch) <= 3
        assert len(batch) * max(lengths[index] for index in batch) <= 64
    assert token_batches([], 64, 3) == []


def _cost(lengths: list[int], batches: list[list[int]], hidden: int) -> float:
    return sum(
        len(batch) * lengths[batch[0]] * (1 + lengths[batch[0]] / (6 * hidden)) + CALL_TOKENS
        for batch in batches
    )


@pytest.mark.parametrize("seed", range(20))
def test_token_batches_are_the_cheapest_runs(seed: int) -> None:
    """Against every way of cutting the sorted lengths into runs within the limits."""
    chooser = random.Random(seed)
    lengths = [chooser.choice([3, 8, 20, 26, 26, 60, 120, 256]) for _ in range(chooser.randrange(1, 11))]
    budget, size, hidden = chooser.choice([256, 512, 2048]), chooser.randrange(1, 6), 384
    order = sorted(range(len(lengths)), key=lambda index: (-lengths[index], index))
    cheapest = math.inf
    for cuts in itertools.product((False, True), repeat=len(order) - 1):
        runs, run = [], [order[0]]
        for index, cut in zip(order[1:], cuts, strict=True):
            if cut:
                runs.append(run)
                run = []
            run.append(index)
        runs.append(run)
        if all(
            len(run) == 1 or (len(run) <= size and len(run) * lengths[run[0]] <= budget) for run in runs
        ):
            cheapest = min(cheapest, _cost(lengths, runs, hidden))

    batches = token_batches(lengths, budget, size, hidden)

    assert sorted(index for batch in batches for index in batch) == list(range(len(lengths)))
    assert _cost(lengths, batches, hidden) == pytest.approx(cheapest)


def test_one_long_text_no_longer_pads_the_short_ones() -> None:
    lengths = [256] + [20] * 20
    padded = sum(len(batch) * lengths[batch[0]] for batch in token_batches(lengths, 2048, 32))
    assert padded == 256 + 20 * 20  # a fixed 32-text batch would pad all 21 to 256: 5,376


def test_many_passages_of_one_length_fill_the_budget() -> None:
    batches = token_batches([26] * 300, 2048, 128)
    assert len(batches) == 4  # 300 / 78, the most that fit 2,048 tokens
    assert all(len(batch) <= 78 for batch in batches)


# -- device, precision and threads --------------------------------------------------------------


def test_auto_dtype_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(local_device, "cpu_has_native_bf16", lambda: True)
    assert local_device.resolve_dtype("auto", "cpu") is torch.bfloat16
    assert local_device.resolve_dtype("auto", "cpu:0") is torch.bfloat16  # same device as "cpu"
    assert local_device.resolve_dtype("auto", "cuda") is torch.float16
    assert local_device.resolve_dtype("auto", "cuda:1") is torch.float16
    assert local_device.resolve_dtype("auto", "mps") is torch.float32
    assert local_device.resolve_dtype("float32", "cpu") is torch.float32
    monkeypatch.setattr(local_device, "cpu_has_native_bf16", lambda: False)
    assert local_device.resolve_dtype("auto", "cpu") is torch.float32
    assert local_device.resolve_dtype("bfloat16", "cpu") is torch.bfloat16


def test_native_bf16_is_read_from_torch_cpu_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    assert local_device.cpu_has_native_bf16()


def test_auto_device_prefers_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert local_device.resolve_device("auto") == local_device.resolve_device(None) == "cpu"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert local_device.resolve_device("auto") == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert local_device.resolve_device("auto") == "cuda"
    assert local_device.resolve_device("cpu") == "cpu"


def test_torch_threads_never_exceed_the_cores_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    calls: list[int] = []
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setattr(local_device.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(local_device, "_threads_checked", False)
    local_device.limit_torch_threads()
    assert calls == [2]
    local_device.limit_torch_threads()  # once per process: a count set after the first load is kept
    assert calls == [2]

    monkeypatch.setattr(local_device, "_threads_checked", False)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)  # a user's lower setting is kept
    local_device.limit_torch_threads()
    assert calls == [2]


def test_torch_threads_chosen_through_omp_num_threads_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    calls: list[int] = []
    monkeypatch.setattr(torch, "get_num_threads", lambda: 8)
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    monkeypatch.setattr(local_device.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    monkeypatch.setattr(local_device, "_threads_checked", False)
    local_device.limit_torch_threads()
    assert calls == []


def test_importing_the_backend_leaves_torch_threads_alone() -> None:
    import subprocess
    import sys

    code = (
        "import torch; before = torch.get_num_threads(); import multirerank.backends.local; "
        "assert torch.get_num_threads() == before"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
