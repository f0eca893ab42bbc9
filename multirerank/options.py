"""Building a backend's pydantic options model from user keywords, with one kind of error, and
the defaults such models read from the environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from multirerank.errors import ConfigurationError

OptionsT = TypeVar("OptionsT", bound=BaseModel)


def validation_problems(error: ValidationError) -> str:
    """Each failing field and what is wrong with it, never the value given (it may be a key)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'options'}: {item['msg']}"
        for item in error.errors(include_input=False, include_url=False)
        # A default made from other fields is not made when one of them failed: a consequence of
        # that field's error, not a problem of its own.
        if item["type"] != "default_factory_not_called"
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


def env_value(*names: str, strip: bool = False) -> str | None:
    """The first of the environment variables ``names`` that is set and not empty, else ``None``.

    With ``strip``, values are stripped first, so a blank one counts as unset.
    """
    for name in names:
        value = os.environ.get(name, "")
        if strip:
            value = value.strip()
        if value:
            return value
    return None


def env_text(*names: str, strip: bool = False) -> Callable[[], str | None]:
    """A ``default_factory`` for a text field: :func:`env_value` of ``names`` when the model is built."""

    def read() -> str | None:
        return env_value(*names, strip=strip)

    return read


def env_secret(*names: str, strip: bool = False) -> Callable[[], SecretStr | None]:
    """A ``default_factory`` for a secret field: :func:`env_value` of ``names``, as a SecretStr."""

    def read() -> SecretStr | None:
        value = env_value(*names, strip=strip)
        return SecretStr(value) if value is not None else None

    return read
