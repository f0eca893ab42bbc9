"""Model strings: ``"provider/model"`` names a backend, as gateways such as Bifrost and LiteLLM do.

Each provider maps to a factory given as ``"module:function"`` so that naming a provider loads
only that provider's module (and its vendor SDK) when it is first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from multirerank.backends.base import Backend
from multirerank.errors import ConfigurationError
from multirerank.options import validation_problems
from multirerank.redaction import HiddenValues

#: provider -> "module:factory"; a factory takes the text after "provider/" (or None) and options.
PROVIDERS: dict[str, str] = {
    "local": "multirerank.backends.local:from_model_string",
    "bedrock": "multirerank.backends.bedrock:from_model_string",
    "sagemaker": "multirerank.backends.sagemaker:from_model_string",
    "cohere": "multirerank.backends.http_api:cohere_from_model_string",
    "bifrost": "multirerank.backends.http_api:bifrost_from_model_string",
    "vllm": "multirerank.backends.http_api:vllm_from_model_string",
    "tei": "multirerank.backends.http_api:tei_from_model_string",
    "jina": "multirerank.backends.http_api:jina_from_model_string",
    "watsonx": "multirerank.backends.watsonx:from_model_string",
    "dashscope": "multirerank.backends.dashscope:from_model_string",
    "voyage": "multirerank.backends.http_api:voyage_from_model_string",
    "mixedbread": "multirerank.backends.http_api:mixedbread_from_model_string",
    "pinecone": "multirerank.backends.http_api:pinecone_from_model_string",
    "nvidia": "multirerank.backends.http_api:nvidia_from_model_string",
    "together": "multirerank.backends.http_api:together_from_model_string",
    "fireworks": "multirerank.backends.http_api:fireworks_from_model_string",
    "deepinfra": "multirerank.backends.http_api:deepinfra_from_model_string",
    "infinity": "multirerank.backends.http_api:infinity_from_model_string",
    "llamacpp": "multirerank.backends.http_api:llamacpp_from_model_string",
    "openrouter": "multirerank.backends.http_api:openrouter_from_model_string",
    "azure": "multirerank.backends.http_api:azure_from_model_string",
    "vertex": "multirerank.backends.vertex:from_model_string",
}


def known_providers() -> list[str]:
    return sorted(PROVIDERS)


def split_model_string(model: str) -> tuple[str, str | None]:
    """``"bedrock/cohere.rerank-v3-5:0"`` -> ``("bedrock", "cohere.rerank-v3-5:0")``."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigurationError(
            f"model must be a 'provider/model' string such as 'local'; known providers: "
            f"{', '.join(known_providers())}"
        )
    provider, _, rest = model.strip().partition("/")
    return provider.lower(), (rest or None)


def backend_from_model(model: str, /, **options: Any) -> Backend:
    """The backend a model string names, built with ``options``."""
    provider, rest = split_model_string(model)
    target = PROVIDERS.get(provider)
    if target is None:
        raise ConfigurationError(
            f"unknown provider {provider!r} in model {model!r}; known providers: {', '.join(known_providers())}"
        )
    _refuse_instruction(provider, options)
    module_name, _, function_name = target.partition(":")
    factory: Callable[..., Backend] = getattr(importlib.import_module(module_name), function_name)
    try:
        return factory(rest, **options)
    except ValidationError as error:
        # Options are checked by each backend's pydantic model (inputs hidden: they may be keys);
        # callers catch one error type for every setup mistake.
        raise ConfigurationError(
            f"invalid options for {provider!r}: {validation_problems(error)}", provider=provider
        ) from None


def _refuse_instruction(provider: str, options: dict[str, Any]) -> None:
    """An instruction for a vendor whose API takes none is refused here, by the vendor data
    (HTTP formats decide per model themselves); an unset one is dropped."""
    from multirerank.vendors import VENDORS

    if "instruction" not in options:
        return
    spec = VENDORS.get(provider)
    if spec is None or spec.api_format is not None or spec.instruction:
        return
    if options["instruction"] is None:
        del options["instruction"]
        return
    raise ConfigurationError(
        f"{spec.title} takes no instruction: leave instruction unset for {provider!r} models",
        provider=provider,
    )


class ModelStringOptions(BaseModel):
    """A backend named by a model string; the framework classes' ``MultiRerank`` is built on it."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=(), arbitrary_types_allowed=True)

    model: str | None = Field(
        default=None, description="A model string such as 'local' or 'bedrock/cohere.rerank-v3-5:0'."
    )
    router: Any = Field(
        default=None,
        exclude=True,
        description="A multirerank.Router to serve calls instead of one model (then leave model unset).",
    )
    # Options can hold keys, so they stay out of reprs and serialised forms.
    instruction: str | None = Field(
        default=None,
        min_length=1,
        description="Task instruction for models that take one (a ConfigurationError for others).",
    )
    backend_options: dict[str, Any] = Field(
        default_factory=dict,
        repr=False,
        exclude=True,
        description="Options for the backend the string names.",
    )

    @field_validator("backend_options")
    @classmethod
    def _hide_values(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Kept as given, shown with its keys only wherever the object is looked into.
        return HiddenValues(value)

    def build_backend(self) -> Backend:
        """The backend ``model`` names, or ``router``; exactly one of them must be given."""
        from multirerank.routing import Router

        if self.router is not None:
            if not isinstance(self.router, Router):
                raise ConfigurationError(f"router must be a multirerank.Router, got {type(self.router).__name__}")
            if self.model is not None or self.backend_options:
                raise ConfigurationError("give either model (with backend_options) or router, not both")
            if self.instruction is not None:
                raise ConfigurationError("instruction does not apply to a router: give it to each route")
            return self.router
        if self.model is None:
            raise ConfigurationError("model is required: a model string such as 'local', or give router=")
        options = dict(self.backend_options)
        if self.instruction is not None:
            if options.get("instruction", self.instruction) != self.instruction:
                raise ConfigurationError("give instruction once, not also in backend_options")
            options["instruction"] = self.instruction
        return backend_from_model(self.model, **options)
