"""What the LangChain and LlamaIndex adapter tests share: the query and what the backend scores."""

from __future__ import annotations

QUERY = "red apples"
#: The in-memory backend's score for each text.
SCORES = {
    "apples are red fruit": 0.7,
    "the sky is blue": 0.1,
    "red apples and green apples": 0.9,
    "bananas are yellow": 0.2,
    "cherries are red": 0.5,
}
