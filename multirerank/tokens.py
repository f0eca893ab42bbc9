"""A lower bound on a text's token count, for vendors whose tokenizer is not at hand.

Cohere limits a rerank query to 2,048 tokens of its own tokenizer, which only its API (or a
download) can run. What can be counted offline is a bound every subword tokenizer that does not
merge across whitespace respects: byte-level BPE (GPT-2's pre-tokenizer, which Cohere's published
tokenizers use) and SentencePiece with its default whitespace split both cut the text at
whitespace before merging, so no token spans two whitespace-separated words and each such word is
at least one token: :func:`min_tokens` counts those words. Counting finer units (punctuation runs,
say) is not safe: a pre-tokenizer may keep ``'t``, ``.`` or ``://`` with the letters next to them,
so ``"don't"`` can be two tokens, not three.

It undercounts (a long, punctuated or non-Latin word is several tokens, and a run of CJK
characters without spaces counts as one), never overcounts: a query it finds too long is too long
for the vendor, and one it passes may still be refused by the vendor (a ``BadRequestError``).
"""

from __future__ import annotations


def min_tokens(text: str) -> int:
    """At least how many tokens ``text`` is for a tokenizer that never merges across whitespace.

    ``text``: any string. Returns the number of whitespace-separated words (``str.split()``), an
    ``int >= 0``; raises nothing.
    """
    return len(text.split())
