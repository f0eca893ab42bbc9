"""Every vendor's LangChain document compressor class, made when first used.

Each class is its vendor's options model followed by :class:`RerankCompressor`; see
:func:`multirerank.settings.framework_class`. Naming one loads that backend's module only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_multirerank.base import RerankCompressor
from multirerank.settings import framework_class

if TYPE_CHECKING:
    from multirerank.backends.bedrock import BedrockOptions
    from multirerank.backends.dashscope import DashScopeOptions
    from multirerank.backends.http_api import (
        HTTPOptions,
        MixedbreadOptions,
        NVIDIAOptions,
        PineconeOptions,
        VoyageOptions,
    )
    from multirerank.backends.local import LocalOptions
    from multirerank.backends.sagemaker import SageMakerOptions
    from multirerank.backends.vertex import VertexOptions
    from multirerank.backends.watsonx import WatsonxOptions
    from multirerank.registry import ModelStringOptions

    # What type checkers and IDEs see; at run time __getattr__ makes the same classes.
    class LocalRerank(LocalOptions, RerankCompressor): ...

    class MultiRerank(ModelStringOptions, RerankCompressor): ...

    class BedrockRerank(BedrockOptions, RerankCompressor): ...

    class SageMakerRerank(SageMakerOptions, RerankCompressor): ...

    class WatsonxRerank(WatsonxOptions, RerankCompressor): ...

    class DashScopeRerank(DashScopeOptions, RerankCompressor): ...

    class VertexAIRerank(VertexOptions, RerankCompressor): ...

    class HTTPRerank(HTTPOptions, RerankCompressor): ...

    class VoyageRerank(VoyageOptions, RerankCompressor): ...

    class MixedbreadRerank(MixedbreadOptions, RerankCompressor): ...

    class PineconeRerank(PineconeOptions, RerankCompressor): ...

    class NVIDIARerank(NVIDIAOptions, RerankCompressor): ...


def __getattr__(name: str) -> type[RerankCompressor]:
    return framework_class(__name__, name, RerankCompressor)
