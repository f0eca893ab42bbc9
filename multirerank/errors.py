"""The project's error types.

Every failure a user can act on surfaces as a :class:`RerankError`. Vendor SDK exceptions are
translated by the backend that caught them, so callers handle one family of errors whatever the
vendor. Messages never carry credentials: backends build them from vendor error bodies only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multirerank.types import Usage


class RerankError(Exception):
    """Base class: a rerank call could not be completed.

    ``provider`` names the backend, ``status`` the HTTP status and ``code`` the vendor's error
    code when they are known, and ``retryable`` says whether the same call may succeed later.
    """

    retryable_by_default = False
    #: A routed call's failed attempts before this error, one dict per route (provider, model,
    #: error, status, message); empty for a call with one backend.
    attempts: list[dict[str, object]] = []
    #: What the vendors billed before the call failed (requests answered, their counts and
    #: cost, failed routes' included); ``None`` for an error raised before any request (bad
    #: input, setup) or by a call's deadline cutting its requests off.
    usage: Usage | None = None

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status: int | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.code = code
        self.retryable = self.retryable_by_default if retryable is None else retryable
        self.retry_after = retry_after

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (("provider", self.provider), ("status", self.status), ("code", self.code))
            if value is not None
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[RerankError], message: str, state: dict[str, object]) -> RerankError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class RerankInputError(RerankError, ValueError):
    """The caller's input is invalid; nothing was sent.

    ``index`` is the position of the document to blame, when one is.
    """

    index: int | None = None

    @classmethod
    def for_document(cls, template: str, index: int, **values: object) -> RerankInputError:
        """An error about the document at ``index``; ``template`` names it as ``{index}``."""
        error = cls(template.format(index=index, **values))
        error.index = index
        return error


class ConfigurationError(RerankError):
    """A reranker is set up wrongly: unknown provider, missing extra or model, bad option.

    Deliberately not a ``ValueError``: pydantic would wrap it in a ``ValidationError`` when a
    framework class is built, and callers catching ``RerankError`` would miss it.
    """


class BadRequestError(RerankError):
    """The vendor rejected the request as invalid (HTTP 400/413/422 and the like)."""


class AuthenticationError(RerankError):
    """Credentials are missing, invalid or lack permission (HTTP 401/403)."""


class NotFoundError(RerankError):
    """The model, endpoint or resource does not exist (HTTP 404)."""


class ThrottledError(RerankError):
    """The vendor asked us to slow down (HTTP 429 or a throttling/quota code)."""

    retryable_by_default = True


class ProviderError(RerankError):
    """The vendor or the model server failed (HTTP 5xx, dropped connection, model error)."""

    retryable_by_default = True


class RerankTimeoutError(ProviderError):
    """The vendor did not answer in time."""


class MalformedResponseError(RerankError):
    """The vendor answered, but the answer cannot be used (bad JSON, bad index, non-finite score)."""


#: What an HTTP status means whatever the vendor (RFC 9110); other 5xx statuses are a
#: :class:`ProviderError` and other 4xx a :class:`BadRequestError`.
STATUS_KINDS: dict[int, type[RerankError]] = {
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    408: RerankTimeoutError,
    429: ThrottledError,
    504: RerankTimeoutError,
}
#: 501 Not Implemented: the server does not implement this call; asking again will not change that.
PERMANENT_STATUSES = frozenset({501})


def error_for_status(
    status: int,
    message: str,
    *,
    provider: str,
    code: str | None = None,
    retry_after: float | None = None,
    permanent_statuses: frozenset[int] = PERMANENT_STATUSES,
) -> RerankError:
    """The project's error for an HTTP status, for vendors whose codes carry no more meaning.

    The type comes from :data:`STATUS_KINDS` (else ``ProviderError`` for 5xx, ``BadRequestError``
    for the rest); a status in ``permanent_statuses`` is never retryable, whatever its type.
    """
    kind = STATUS_KINDS.get(status) or (ProviderError if status >= 500 else BadRequestError)
    retryable = False if status in permanent_statuses else None
    return kind(
        message, provider=provider, status=status, code=code, retry_after=retry_after, retryable=retryable
    )
