"""What the HTTP rerank tests share: how each format reaches the emulator."""

from __future__ import annotations

import math
from typing import Any

from multirerank.testing import Emulator, Request, Response, Route
from multirerank.testing.http_apis import cohere_error
from multirerank.testing.server import default_routes

API_KEY = "sk-test-0123456789abcdef"

#: Per format: the emulator prefix, the options a user would give, the path the request lands on.
SETUPS: dict[str, dict[str, Any]] = {
    "cohere": {
        "prefix": "/cohere",
        "options": {"model": "rerank-v3.5", "api_key": API_KEY},
        "path": "/cohere/v2/rerank",
    },
    "cohere-v1": {
        "prefix": "/cohere",
        "options": {"model": "rerank-english-v3.0", "api_key": API_KEY},
        "path": "/cohere/v1/rerank",
    },
    "bifrost": {
        "prefix": "/bifrost",
        "options": {"model": "cohere/rerank-v3.5"},
        "path": "/bifrost/v1/rerank",
    },
    "vllm": {
        "prefix": "/vllm",
        "options": {"model": "BAAI/bge-reranker-v2-m3"},
        "path": "/vllm/v1/rerank",
    },
    "tei": {"prefix": "/tei", "options": {}, "path": "/tei/rerank"},
    "jina": {
        "prefix": "/jina",
        "options": {"model": "jina-reranker-v2-base-multilingual", "api_key": API_KEY},
        "path": "/jina/v1/rerank",
    },
    "voyage": {
        "prefix": "/voyage",
        "options": {"model": "rerank-2.5", "api_key": API_KEY},
        "path": "/voyage/v1/rerank",
    },
    "mixedbread": {
        "prefix": "/mixedbread",
        "options": {"model": "mixedbread-ai/mxbai-rerank-large-v2", "api_key": API_KEY},
        "path": "/mixedbread/v1/reranking",
    },
    "pinecone": {
        "prefix": "/pinecone",
        "options": {"model": "bge-reranker-v2-m3", "api_key": API_KEY},
        "path": "/pinecone/rerank",
    },
    "nvidia": {
        "prefix": "/nvidia",
        "options": {"model": "nvidia/llama-nemotron-rerank-1b-v2", "api_key": API_KEY},
        "path": "/nvidia/v1/ranking",
    },
    "together": {
        "prefix": "/together",
        "options": {"model": "Salesforce/Llama-Rank-V1", "api_key": API_KEY},
        "path": "/together/v1/rerank",
    },
    "fireworks": {
        "prefix": "/fireworks",
        "options": {"model": "fireworks/qwen3-reranker-8b", "api_key": API_KEY},
        "path": "/fireworks/inference/v1/rerank",
    },
    "deepinfra": {
        "prefix": "/deepinfra",
        "options": {"model": "Qwen/Qwen3-Reranker-8B", "api_key": API_KEY},
        "path": "/deepinfra/v1/inference/Qwen/Qwen3-Reranker-8B",
    },
    "infinity": {"prefix": "/infinity", "options": {}, "path": "/infinity/rerank"},
    "llamacpp": {"prefix": "/llamacpp", "options": {}, "path": "/llamacpp/v1/rerank"},
    "openrouter": {
        "prefix": "/openrouter",
        "options": {"model": "cohere/rerank-v3.5", "api_key": API_KEY},
        "path": "/openrouter/api/v1/rerank",
    },
    "azure-cohere": {
        "prefix": "/azure",
        "options": {"model": "Cohere-rerank-v4.0-pro", "api_key": API_KEY},
        "path": "/azure/v2/rerank",
    },
}

#: The vendors added with the "More vendors" issue (each also has its own tests).
MORE_FORMATS = [
    "voyage",
    "mixedbread",
    "pinecone",
    "nvidia",
    "together",
    "fireworks",
    "deepinfra",
    "infinity",
    "llamacpp",
    "openrouter",
    "azure-cohere",
]

FORMATS = list(SETUPS)

#: The vendor classes that are HTTP formats with their format fixed.
VENDOR_FORMATS = {
    "VoyageRerank": "voyage",
    "MixedbreadRerank": "mixedbread",
    "PineconeRerank": "pinecone",
    "NVIDIARerank": "nvidia",
}

QUERY = "solar panels on a roof"
TEXTS = [
    "wind turbines spin offshore",
    "solar panels convert sunlight on the roof of a house",
    "a roof made of clay tiles",
    "panels of judges decide cases",
    "solar eclipses are rare",
]


def http_options(emulator: Emulator, api_format: str, **extra: Any) -> dict[str, Any]:
    """The options that point ``api_format`` at the emulator, without retries unless asked."""
    setup = SETUPS[api_format]
    options: dict[str, Any] = {
        "api_format": api_format,
        "base_url": emulator.url + setup["prefix"],
        "max_retries": 0,
        **setup["options"],
    }
    options.update(extra)
    return options


def wire_scores(api_format: str, ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """The emulator's ``ranked`` 0..1 scores as ``api_format`` sends them (logits for NVIDIA and
    llama.cpp, whose emulators answer raw scores)."""
    from multirerank.backends.http_formats import API_FORMATS

    if API_FORMATS[api_format].score_scale != "logit":
        return ranked
    return [(index, math.log(max(score, 1e-6) / max(1 - score, 1e-6))) for index, score in ranked]


def _answer_as_told(emulator: Emulator, request: Request) -> Response:
    status, body, raw = emulator.state["odd.answer"]
    return Response(status, body, raw=raw)


#: Answers whatever ``emulator.state["odd.answer"] = (status, body, raw)`` says, for shape tests.
ODD_ROUTE = Route("odd", "POST", r"/odd/(?:v1/|v2/)?rerank", _answer_as_told, cohere_error)


#: The emulator's routes for the HTTP tests: every vendor's, and the shape-test route.
EMULATOR_ROUTES = [*default_routes(), ODD_ROUTE]
