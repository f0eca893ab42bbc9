"""Building a backend's pydantic options model from user keywords, with one kind of error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from multirerank.errors import ConfigurationError

OptionsT = TypeVar("OptionsT", bound=BaseModel)


def validation_problems(error: ValidationError) -> str:
    """Each failing field and what is wrong with it, never the value given (it may be a key)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'options'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
    )


def options_from(model: type[OptionsT], options: Mapping[str, Any], *, provider: str) -> OptionsT:
    """``model(**options)``, with pydantic's complaints turned into one :class:`ConfigurationError`."""
    try:
        return model(**options)
    except ValidationError as error:
        raise ConfigurationError(
            f"invalid {provider} options: {validation_problems(error)}", provider=provider
        ) from None


def with_model_from_string(
    rest: str | None, options: Mapping[str, Any], field: str, *, provider: str
) -> dict[str, Any]:
    """``options`` with the model string's model put in ``field``; naming it twice differently is an error."""
    merged = dict(options)
    if rest is None:
        return merged
    given = merged.get(field)
    if given is not None and given != rest:
        raise ConfigurationError(
            f"the model string names {rest!r} but {field} is {given!r}; give it once", provider=provider
        )
    merged[field] = rest
    return merged
