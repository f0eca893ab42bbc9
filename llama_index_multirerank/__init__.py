"""LlamaIndex node postprocessors over every multirerank backend.

Names load on first use (PEP 562), so importing this package loads no backend and no engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llama_index_multirerank.base import RerankPostprocessor
    from llama_index_multirerank.rerankers import (
        BedrockRerank,
        DashScopeRerank,
        HTTPRerank,
        LocalRerank,
        MixedbreadRerank,
        MultiRerank,
        NVIDIARerank,
        PineconeRerank,
        SageMakerRerank,
        VertexAIRerank,
        VoyageRerank,
        WatsonxRerank,
    )

__all__ = [
    "BedrockRerank",
    "DashScopeRerank",
    "HTTPRerank",
    "LocalRerank",
    "MixedbreadRerank",
    "MultiRerank",
    "NVIDIARerank",
    "PineconeRerank",
    "RerankPostprocessor",
    "SageMakerRerank",
    "VertexAIRerank",
    "VoyageRerank",
    "WatsonxRerank",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = "base" if name == "RerankPostprocessor" else "rerankers"
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
