"""Every vendor's LlamaIndex node postprocessor class, made when first used.

Each class is its vendor's options model followed by :class:`RerankPostprocessor`; see
:func:`multirerank.settings.framework_class`. Naming one loads that backend's module only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index_multirerank.base import RerankPostprocessor
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
    class LocalRerank(LocalOptions, RerankPostprocessor): ...

    class MultiRerank(ModelStringOptions, RerankPostprocessor): ...

    class BedrockRerank(BedrockOptions, RerankPostprocessor): ...

    class SageMakerRerank(SageMakerOptions, RerankPostprocessor): ...

    class WatsonxRerank(WatsonxOptions, RerankPostprocessor): ...

    class DashScopeRerank(DashScopeOptions, RerankPostprocessor): ...

    class VertexAIRerank(VertexOptions, RerankPostprocessor): ...

    class HTTPRerank(HTTPOptions, RerankPostprocessor): ...

    class VoyageRerank(VoyageOptions, RerankPostprocessor): ...

    class MixedbreadRerank(MixedbreadOptions, RerankPostprocessor): ...

    class PineconeRerank(PineconeOptions, RerankPostprocessor): ...

    class NVIDIARerank(NVIDIAOptions, RerankPostprocessor): ...


def __getattr__(name: str) -> type[RerankPostprocessor]:
    return framework_class(__name__, name, RerankPostprocessor)
