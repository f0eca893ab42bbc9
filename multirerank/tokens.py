"""A lower bound on a text's token count, for vendors whose tokenizer is not at hand.

Cohere limits a rerank query to 2,048 tokens of its own tokenizer, which only its API (or a
download) can run. What can be counted offline is a bound every subword tokenizer of the usual
kind respects: byte-level BPE (GPT-2's pre-tokenizer, which Cohere's published tokenizers use)
and SentencePiece both split text at word and punctuation boundaries before merging, so no token
spans two words or a word and a punctuation mark. Each run of word characters and each run of
other non-space characters is therefore at least one token: :func:`min_tokens` counts those runs.
It undercounts (a long or non-Latin word is several tokens, and a run of CJK characters counts as
one), never overcounts: a query it finds too long is too long for the vendor, and one it passes
may still be refused by the vendor (a ``BadRequestError``).
"""

from __future__ import annotations

import re

_RUNS = re.compile(r"\w+|[^\w\s]+")


def min_tokens(text: str) -> int:
    """At least how many tokens ``text`` is for a word-splitting subword tokenizer (see the module)."""
    return sum(1 for _ in _RUNS.finditer(text))
