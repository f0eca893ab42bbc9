"""multirerank: one reranking layer for every vendor, shared by LangChain and LlamaIndex."""

from typing import TYPE_CHECKING, Any

from multirerank.backends.base import Backend
from multirerank.engine import Reranker
from multirerank.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    MalformedResponseError,
    NotFoundError,
    ProviderError,
    RerankError,
    RerankInputError,
    RerankTimeoutError,
    ThrottledError,
)
from multirerank.registry import backend_from_model, known_providers
from multirerank.routing import Router
from multirerank.types import BatchResult, Limits, RerankResponse, RerankResult, ScoreScale, Usage
from multirerank.vendor_spec import Price

if TYPE_CHECKING:
    from multirerank.evaluation import evaluate

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "Backend",
    "BadRequestError",
    "BatchResult",
    "ConfigurationError",
    "Limits",
    "MalformedResponseError",
    "NotFoundError",
    "Price",
    "ProviderError",
    "RerankError",
    "RerankInputError",
    "RerankResponse",
    "RerankResult",
    "RerankTimeoutError",
    "Reranker",
    "Router",
    "ScoreScale",
    "ThrottledError",
    "Usage",
    "backend_from_model",
    "evaluate",
    "known_providers",
]


def __getattr__(name: str) -> Any:
    # multirerank.evaluate loads its modules on first use, not with every import of the package.
    if name == "evaluate":
        from multirerank.evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'multirerank' has no attribute {name!r}")
