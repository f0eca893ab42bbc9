"""Per vendor on the emulator: how to reach it, and the call's cost computed by hand from the
requests the emulator received, the price table and the vendor's billing unit.

Shared by tests/test_cost.py and benchmarks/bench_cost.py. The hand computation reads each
request's body as the vendor would and applies the vendor's rule with plain arithmetic (no code
of the project's usage path): Cohere and Bedrock bill ceil(documents / 100) per request, the
token vendors bill documents x query tokens + document tokens, counted as words (the texts here
hold words and spaces only, so the emulator's tokenizers count words too).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from multirerank import Reranker
from multirerank.prices import price_for, region_of
from multirerank.testing import Emulator, Request
from multirerank.testing import watsonx as watsonx_api

QUERY = "solar battery storage on the grid"
WORDS = ["solar", "battery", "wind", "storage", "grid", "turbine", "panel", "hydrogen", "roof", "meter"]
AWS = {
    "region_name": "us-west-2",
    "aws_access_key_id": "AKIDEXAMPLE",
    "aws_secret_access_key": "not-a-secret",
}
#: A price for vendors the table has none for, so the arithmetic is still checked on their counts.
TOKEN_PRICE = {"usd": 0.05, "per": "1m_tokens"}
#: Environment variables the watsonx.ai SDK reads; none of this machine's may take part.
WATSONX_ENV = (
    "WATSONX_URL",
    "WATSONX_APIKEY",
    "WATSONX_API_KEY",
    "WATSONX_TOKEN",
    "WATSONX_PROJECT_ID",
    "WATSONX_SPACE_ID",
    "USER_ACCESS_TOKEN",
    "RUNTIME_ENV_APSX_URL",
    "PROJECT_ID",
    "SPACE_ID",
)


def texts(count: int, seed: int = 7) -> list[str]:
    """``count`` texts of 5 to 60 plain words (no punctuation: every tokenizer counts words)."""
    chooser = random.Random(seed)
    return [
        f"note {number} " + " ".join(chooser.choices(WORDS, k=chooser.randint(5, 60)))
        for number in range(count)
    ]


def words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def tokens(query: str, documents: list[str]) -> int:
    """What a token-billed vendor counts for one request: each document with the query."""
    return len(documents) * words(query) + sum(words(document) for document in documents)


@dataclass(frozen=True)
class CostCase:
    """One vendor: its model string and options on the emulator (``tls``: the HTTPS one), the path
    its rerank requests land on, and per request body, the count it is billed on."""

    name: str
    model: str
    options: Callable[[Emulator], dict[str, Any]]
    path: str
    billed: Callable[[Any], int | None]
    unit: str
    tls: bool = False
    prices: Mapping[str, Any] | None = None

    def reranker(self, emulator: Emulator) -> Reranker:
        return Reranker(self.model, prices=self.prices, **self.options(emulator))

    def requests(self, emulator: Emulator) -> list[Request]:
        return emulator.requests_to(self.path)

    def by_hand(self, reranker: Reranker, emulator: Emulator) -> tuple[int | None, float | None]:
        """The billed count summed over the requests the emulator received, and its cost at the
        price the table (or the case's override) gives."""
        counts = [self.billed(request.json()) for request in self.requests(emulator)]
        count = None if any(value is None for value in counts) else sum(value or 0 for value in counts)
        backend = reranker.backend
        region = region_of(backend.provider, backend.describe())
        price = price_for(backend.provider, backend.model, reranker.prices, region=region)
        if price is None or price.usd is None:
            return count, None
        if price.per == "free":
            return count, 0.0
        per = {"1k_searches": 1000, "1k_queries": 1000, "1m_tokens": 1_000_000}[price.per]
        return count, None if count is None else price.usd * count / per


def _searches(documents: int) -> int:
    return math.ceil(documents / 100)


def _watsonx(emulator: Emulator) -> dict[str, Any]:
    return {
        "url": emulator.url,
        "token": watsonx_api.issue_token(emulator),
        "project_id": "project-1",
        "verify": False,
    }


def _vertex(emulator: Emulator) -> dict[str, Any]:
    from google.oauth2.credentials import Credentials

    return {"project_id": "project-1", "credentials": Credentials(token="ya29.cost"), "base_url": emulator.url}


def _http(emulator: Emulator, prefix: str) -> dict[str, Any]:
    """A hosted HTTP vendor on the emulator under its prefix, with a key."""
    return {"base_url": f"{emulator.url}/{prefix}", "api_key": "sk-test"}


CASES: list[CostCase] = [
    CostCase(
        "cohere",
        "cohere/rerank-v3.5",
        lambda emulator: {"base_url": f"{emulator.url}/cohere", "api_key": "sk-test"},
        r"^/cohere/v2/rerank$",
        lambda body: _searches(len(body["documents"])),
        "search units",
    ),
    CostCase(
        "bedrock",
        "bedrock/cohere.rerank-v3-5:0",
        lambda emulator: {"endpoint_url": emulator.url, **AWS},
        r"^/rerank$",
        lambda body: _searches(len(body["sources"])),
        "queries",
    ),
    CostCase(
        "dashscope",
        "dashscope/qwen3-rerank",
        lambda emulator: {"base_url": f"{emulator.url}/api/v1", "api_key": "sk-test"},
        r"^/api/v1/services/rerank/",
        lambda body: tokens(body["input"]["query"], body["input"]["documents"]),
        "tokens",
    ),
    CostCase(
        "watsonx",
        "watsonx/cross-encoder/ms-marco-minilm-l-12-v2",
        _watsonx,
        r"^/ml/v1/text/rerank$",
        lambda body: tokens(body["query"], [item["text"] for item in body["inputs"]]),
        "tokens",
        tls=True,
    ),
    CostCase(
        "watsonx (prices=)",
        "watsonx/cross-encoder/ms-marco-minilm-l-12-v2",
        _watsonx,
        r"^/ml/v1/text/rerank$",
        lambda body: tokens(body["query"], [item["text"] for item in body["inputs"]]),
        "tokens",
        tls=True,
        prices={"watsonx/cross-encoder/ms-marco-minilm-l-12-v2": TOKEN_PRICE},
    ),
    CostCase(
        "jina (prices=)",
        "jina/jina-reranker-v2-base-multilingual",
        lambda emulator: {"base_url": f"{emulator.url}/jina", "api_key": "sk-test"},
        r"^/jina/v1/rerank$",
        lambda body: tokens(body["query"], body["documents"]),
        "tokens",
        prices={"jina/*": TOKEN_PRICE},
    ),
    CostCase(
        "vertex",
        "vertex/semantic-ranker-default@latest",
        _vertex,
        r"^/v1/projects/[^/]+/locations/[^/]+/rankingConfigs/[^/]+:rank$",
        lambda body: _searches(len(body["records"])),
        "queries",
    ),
    # -- more hosted APIs over HTTP ------------------------------------------------------------
    CostCase(
        "voyage",
        "voyage/rerank-2.5",
        lambda emulator: _http(emulator, "voyage"),
        r"^/voyage/v1/rerank$",
        lambda body: tokens(body["query"], body["documents"]),
        "tokens",
    ),
    CostCase(
        "mixedbread",
        "mixedbread/mixedbread-ai/mxbai-rerank-large-v2",
        lambda emulator: _http(emulator, "mixedbread"),
        r"^/mixedbread/v1/reranking$",
        lambda body: tokens(body["query"], body["input"]),
        "tokens",
    ),
    CostCase(
        "pinecone",
        "pinecone/bge-reranker-v2-m3",
        lambda emulator: _http(emulator, "pinecone"),
        r"^/pinecone/rerank$",
        lambda body: _searches(len(body["documents"])),
        "rerank units",
    ),
    CostCase(
        "deepinfra",
        "deepinfra/Qwen/Qwen3-Reranker-8B",
        lambda emulator: _http(emulator, "deepinfra"),
        r"^/deepinfra/v1/inference/",
        lambda body: sum(
            tokens(query, [text]) for query, text in zip(body["queries"], body["documents"], strict=True)
        ),
        "tokens",
    ),
    CostCase(
        "openrouter",
        "openrouter/cohere/rerank-v3.5",
        lambda emulator: _http(emulator, "openrouter"),
        r"^/openrouter/api/v1/rerank$",
        lambda body: _searches(len(body["documents"])),
        "search units",
    ),
    CostCase(
        "together (prices=)",
        "together/Salesforce/Llama-Rank-V1",
        lambda emulator: _http(emulator, "together"),
        r"^/together/v1/rerank$",
        lambda body: tokens(body["query"], body["documents"]),
        "tokens",
        prices={"together/*": TOKEN_PRICE},
    ),
    CostCase(
        "fireworks (prices=)",
        "fireworks/fireworks/qwen3-reranker-8b",
        lambda emulator: _http(emulator, "fireworks"),
        r"^/fireworks/inference/v1/rerank$",
        lambda body: tokens(body["query"], body["documents"]),
        "tokens",
        prices={"fireworks/*": TOKEN_PRICE},
    ),
    CostCase(
        "azure (prices=)",
        "azure/Cohere-rerank-v4.0-pro",
        lambda emulator: _http(emulator, "azure"),
        r"^/azure/v2/rerank$",
        lambda body: _searches(len(body["documents"])),
        "search units",
        prices={"azure/Cohere-rerank-v4.0-pro": {"usd": 2.0, "per": "1k_searches"}},
    ),
    CostCase(
        "nvidia (NIM)",
        "nvidia/nvidia/llama-nemotron-rerank-1b-v2",
        lambda emulator: {"base_url": f"{emulator.url}/nvidia"},
        r"^/nvidia/v1/ranking$",
        lambda body: None,
        "instance-hours",
    ),
    CostCase(
        "infinity",
        "infinity",
        lambda emulator: {"base_url": f"{emulator.url}/infinity"},
        r"^/infinity/rerank$",
        lambda body: tokens(body["query"], body["documents"]),
        "tokens",
    ),
    CostCase(
        "llamacpp",
        "llamacpp",
        lambda emulator: {"base_url": f"{emulator.url}/llamacpp"},
        r"^/llamacpp/v1/rerank$",
        lambda body: tokens(body["query"], body["documents"]),
        "tokens",
    ),
    CostCase(
        "tei",
        "tei",
        lambda emulator: {"base_url": f"{emulator.url}/tei"},
        r"^/tei/rerank$",
        lambda body: None,
        "instance-hours",
    ),
    CostCase(
        "sagemaker",
        "sagemaker/reranker-endpoint",
        lambda emulator: {"base_url": emulator.url, **AWS},
        r"^/endpoints/reranker-endpoint/invocations$",
        lambda body: None,
        "instance-hours",
    ),
]


def emulators() -> Iterator[tuple[Emulator, Emulator]]:
    """A plain and an HTTPS emulator (watsonx.ai's SDK wants HTTPS), started and stopped."""
    with Emulator() as plain, Emulator(tls=True) as secure:
        yield plain, secure
