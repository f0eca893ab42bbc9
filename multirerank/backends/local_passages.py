"""Token-level work of the local backend: passages of long documents, model inputs, batches.

Each text is tokenized once; its passages are slices of those token ids (cut between words, so a
slice is exactly what tokenizing that stretch of text would give), the model's special tokens are
added around them here, and batches are formed by padded token count.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# What ends a sentence, for choosing where passages start and end. Only boundaries are chosen
# from it: a wrong guess (an abbreviation such as "D.C.") moves a cut by a sentence, never loses
# text, so no sentence-splitting library or language model is needed.
_SENTENCE_ENDS = frozenset(".!?\u3002\uff01\uff1f\u2026")  # and the CJK full stop, marks, ellipsis


@dataclass(frozen=True)
class Template:
    """Where a tokenizer puts its special tokens around one text or a (query, document) pair.

    Read from the tokenizer itself (``from_tokenizer``): ``[CLS] a [SEP]`` and ``[CLS] q [SEP] d
    [SEP]`` for BERT, ``<s> q </s></s> d </s>`` for RoBERTa. ``*_types`` are the token type ids of
    each part, or ``None`` when the model takes none.
    """

    single: tuple[list[int], list[int]]
    pair: tuple[list[int], list[int], list[int]]
    single_types: tuple[int, int, int] | None
    pair_types: tuple[int, int, int, int, int] | None

    @classmethod
    def from_tokenizer(cls, tokenizer: Any) -> Template | None:
        """The template, or ``None`` when the tokenizer's output cannot be read as one."""
        try:
            return cls._read(tokenizer)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return None

    @classmethod
    def _read(cls, tokenizer: Any) -> Template | None:
        first = tokenizer("a", add_special_tokens=False, verbose=False)["input_ids"]
        second = tokenizer("b", add_special_tokens=False, verbose=False)["input_ids"]
        single = tokenizer("a", verbose=False)
        pair = tokenizer("a", "b", verbose=False)
        if not first or not second:
            return None
        at = _find(single["input_ids"], first, 0)
        left = _find(pair["input_ids"], first, 0)
        right = _find(pair["input_ids"], second, left + len(first)) if left >= 0 else -1
        if at < 0 or right < 0:
            return None
        ids, pair_ids = single["input_ids"], pair["input_ids"]
        template = cls(
            single=(ids[:at], ids[at + len(first) :]),
            pair=(pair_ids[:left], pair_ids[left + len(first) : right], pair_ids[right + len(second) :]),
            single_types=None,
            pair_types=None,
        )
        if "token_type_ids" in single and "token_type_ids" in pair:
            types, pair_types = single["token_type_ids"], pair["token_type_ids"]
            # One type per part, read at the part's first token (an empty part's value is unused).
            middle = left + len(first)
            template = cls(
                template.single,
                template.pair,
                (types[0], types[at], types[-1]),
                (pair_types[0], pair_types[left], pair_types[middle], pair_types[right], pair_types[-1]),
            )
        return template

    def single_length(self) -> int:
        return len(self.single[0]) + len(self.single[1])

    def pair_length(self) -> int:
        return sum(len(part) for part in self.pair)

    def wrap(self, ids: Sequence[int]) -> tuple[list[int], list[int] | None]:
        """One text's model input ids and token type ids."""
        prefix, suffix = self.single
        types = self.single_types
        kinds = (
            None
            if types is None
            else [types[0]] * len(prefix) + [types[1]] * len(ids) + [types[2]] * len(suffix)
        )
        return [*prefix, *ids, *suffix], kinds

    def wrap_pair(self, query: Sequence[int], ids: Sequence[int]) -> tuple[list[int], list[int] | None]:
        """A (query, document) pair's model input ids and token type ids."""
        prefix, middle, suffix = self.pair
        types = self.pair_types
        kinds = None
        if types is not None:
            kinds = (
                [types[0]] * len(prefix)
                + [types[1]] * len(query)
                + [types[2]] * len(middle)
                + [types[3]] * len(ids)
                + [types[4]] * len(suffix)
            )
        return [*prefix, *query, *middle, *ids, *suffix], kinds


def _find(haystack: Sequence[int], needle: Sequence[int], start: int) -> int:
    for at in range(start, len(haystack) - len(needle) + 1):
        if list(haystack[at : at + len(needle)]) == list(needle):
            return at
    return -1


def sentence_starts(text: str, offsets: Sequence[tuple[int, int]], words: Sequence[int | None]) -> list[int]:
    """Token positions (after 0) that open a sentence: the previous token ends in ``.``, ``!``,
    ``?`` (or their CJK forms), and this one starts a new word after white space."""
    starts: list[int] = []
    for token in range(1, len(offsets)):
        end = offsets[token - 1][1]
        if (
            end > 0
            and text[end - 1] in _SENTENCE_ENDS
            and offsets[token][0] > end
            and (words[token] is None or words[token] != words[token - 1])
        ):
            starts.append(token)
    return starts


def passage_token_spans(
    count: int, window: int, stride: int, sentences: Sequence[int], words: Sequence[int | None]
) -> list[tuple[int, int]]:
    """``(start, end)`` token spans of a text of ``count`` tokens, each at most ``window`` long.

    ``sentences`` are the sorted token positions where sentences start, ``words`` each token's
    word number. A passage ends at the last sentence start that leaves it at least half a window
    long (and past the previous passage's end), else at the last word start within the window.
    The next passage starts at the first sentence start at least ``stride`` tokens after the
    previous start when one lies inside the previous passage (the passages share those
    sentences); else where the previous one ended, if that is a sentence start (no sentence is
    cut, so nothing need be read twice); else, inside a sentence longer than the passage, at the
    word start ``stride`` tokens on. Together the passages cover every token. One span when the
    text fits.
    """
    spans: list[tuple[int, int]] = []
    start = end = 0
    while start + window < count:
        limit = start + window
        at = bisect.bisect_right(sentences, limit) - 1
        # Each passage reads past the previous one's end, or it would add nothing.
        if at >= 0 and sentences[at] >= start + window // 2 and sentences[at] > end:
            end = sentences[at]
        else:
            end = _word_start(words, limit, start + window // 2)
        spans.append((start, end))
        following = bisect.bisect_left(sentences, start + stride)
        if following < len(sentences) and sentences[following] < end:
            start = sentences[following]
        elif end - start <= stride or _contains(sentences, end):
            start = end  # no sentence is cut there: nothing to read twice
        else:  # a sentence longer than the passage: overlap by words
            start = _word_start(words, start + stride, start)
    spans.append((start, count))
    return spans


def _contains(ordered: Sequence[int], value: int) -> bool:
    at = bisect.bisect_left(ordered, value)
    return at < len(ordered) and ordered[at] == value


def _word_start(words: Sequence[int | None], token: int, floor: int) -> int:
    """``token`` moved back to the first token of its word, unless that is not after ``floor``.

    A passage cut between words is tokenized again into exactly the tokens counted here; one that
    opened on "##ington" would not be, and would read half a word.
    """
    first = token
    while first > floor and words[first] is not None and words[first - 1] == words[first]:
        first -= 1
    return first if first > floor else token


#: Fixed cost of one model call, in tokens' worth of model time: measured on 2 CPU cores with
#: all-MiniLM-L6-v2, a call of 234 tokens ran at 6,100 tokens/s against 7,000 for 1,000-2,000
#: (about 5 ms, some 32 tokens, per call). Padding a short input into a longer batch costs more
#: than this; starting a batch for every few inputs costs it again and again.
CALL_TOKENS = 32


#: A transformer's width when its configuration does not say (BERT-base's): it weighs attention
#: against the dense layers when batches are chosen.
DEFAULT_HIDDEN_SIZE = 768


def token_batches(
    lengths: Sequence[int], batch_tokens: int, batch_size: int, hidden_size: int = DEFAULT_HIDDEN_SIZE
) -> list[list[int]]:
    """Indices of ``lengths`` in batches, longest first, each within ``batch_size`` inputs and
    ``batch_tokens`` padded tokens (inputs x longest), chosen to cost the least model time.

    The cost of a batch of ``n`` inputs padded to ``width`` tokens is ``n * width * (1 + width
    / (6 * hidden_size))`` (a transformer layer's dense products take ``12 h^2`` multiply-adds a
    token, its attention ``2 h width``) plus :data:`CALL_TOKENS` per call. Sorted by length, the
    best batches are runs of neighbours; a dynamic programme over the runs finds the cheapest
    (``O(n * batch_size)``, vectorised). An input longer than the budget gets a batch of its own.
    """
    import numpy as np

    count = len(lengths)
    if not count:
        return []
    order = sorted(range(count), key=lambda index: (-lengths[index], index))
    widths = np.array([lengths[index] for index in order], dtype=np.float64)
    per_input = widths * (1.0 + widths / (6.0 * hidden_size))
    # best[i]: the least cost of batching order[i:]; cut[i]: where the first of those batches ends.
    best = np.zeros(count + 1)
    cut = np.zeros(count, dtype=np.int64)
    for first in range(count - 1, -1, -1):
        rows = max(1, min(batch_size, int(batch_tokens // max(1.0, widths[first])), count - first))
        ends = np.arange(first + 1, first + rows + 1)
        costs = (ends - first) * per_input[first] + best[ends]
        at = int(np.argmin(costs))
        best[first] = costs[at] + CALL_TOKENS
        cut[first] = ends[at]
    batches: list[list[int]] = []
    first = 0
    while first < count:
        end = int(cut[first])
        batches.append(order[first:end])
        first = end
    return batches
