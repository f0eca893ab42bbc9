"""Secrets kept out of everything the project shows: error messages, exception arguments,
chained causes and log records.

Every backend declares the secrets it holds or has obtained (:meth:`Backend.secrets
<multirerank.backends.base.Backend.secrets>`): API keys, passwords, session tokens, and bearer
tokens an SDK got from an auth endpoint and keeps. One mechanism masks them wherever they would
show, since vendors echo them back (``"Invalid API-key provided: <the key>"``):

- the engine passes every exception leaving a backend call through :func:`scrub_failure`, which
  masks the secrets in the error's message, arguments and attributes, and replaces each chained
  cause (``__cause__`` / ``__context__``, all the way down) whose text carries one with a
  :class:`RedactedException` showing the same text masked, so that no rendering of the error,
  ``traceback.format_exception`` included, shows a secret;
- :class:`RedactingFilter`, installed on the ``multirerank`` logger and on each module logger
  the project writes to (``multirerank.engine.reranker``..., see :func:`module_logger`), masks the secrets of every live backend in the records it emits;
- a backend that builds messages from vendor text masks them at once with a :class:`Redactor`.

What is masked for one secret: the value, the credentials of ``<scheme> <credentials>`` (the
token of ``Bearer <token>``), and the value as JSON or URL encoding carries it, whatever its case.
Values shorter than :data:`MIN_SECRET_LENGTH` are left alone: masking them would mangle ordinary
words while hiding next to nothing. Longer secrets are masked first, so one containing another is
masked whole.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import traceback
import weakref
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, quote_plus, urlsplit

from pydantic import SecretStr

#: What a secret is replaced with.
MASK = "***"
#: Shorter values are not masked.
MIN_SECRET_LENGTH = 4
#: The logger every module of the project writes to; :func:`install` filters it.
LOGGER_NAME = "multirerank"

# "<scheme> <credentials>", as in an Authorization header: a server may echo the credentials alone.
_SCHEMED = re.compile(r"^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*\s+(\S.*)$", re.DOTALL)
# How much of an object's repr is looked at when deciding whether it shows a secret.
_REPR_LIMIT = 100_000

E = TypeVar("E", bound=BaseException)

SecretValue = str | SecretStr | None


class SecretHolder(Protocol):
    """Anything that can say which secrets it holds: every backend does."""

    def secrets(self) -> Iterable[SecretValue]:
        """The secret values held or obtained so far; ``None`` and empty values are ignored."""
        ...


class RedactedException(Exception):
    """Stands in for an exception whose text carried a secret.

    Its text is the original's as a traceback shows it (``module.Type: message``), masked;
    ``original_type`` names the original's class. It keeps the original's traceback, and its own
    ``__cause__`` / ``__context__`` are the original's, scrubbed the same way.
    """

    def __init__(self, text: str, original_type: str) -> None:
        super().__init__(text)
        self.original_type = original_type

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.original_type))


class HiddenValues(dict[str, Any]):
    """A dict showing its keys only, for options that may hold secrets (a backend's options
    given as a mapping): its repr and str mask every value."""

    def __repr__(self) -> str:
        return "{" + ", ".join(f"{key!r}: {MASK!r}" for key in self) + "}"

    __str__ = __repr__


def secret_forms(values: Iterable[SecretValue]) -> tuple[str, ...]:
    """Every text to mask for ``values``, longest first (see the module's docstring)."""
    forms: set[str] = set()
    for value in values:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not isinstance(value, str) or not value.strip():
            continue
        candidates = {value, value.strip()}
        schemed = _SCHEMED.match(value.strip())
        if schemed is not None:
            candidates.add(schemed[1].strip())
        for candidate in list(candidates):
            candidates.add(json.dumps(candidate, ensure_ascii=False)[1:-1])
            candidates.add(json.dumps(candidate)[1:-1])
            candidates.add(quote(candidate, safe=""))
            candidates.add(quote_plus(candidate, safe=""))
        forms.update(candidate for candidate in candidates if len(candidate) >= MIN_SECRET_LENGTH)
    return tuple(sorted(forms, key=lambda form: (-len(form), form)))


class Redactor:
    """Masks a fixed set of secrets in text, in exceptions and their chains.

    Build one with :func:`redactor` (cached per set of secrets) or ``Redactor(values)``. A
    redactor with nothing to mask is false and changes nothing.
    """

    def __init__(self, values: Iterable[SecretValue] = ()) -> None:
        forms = secret_forms(values)
        self._count = len(forms)
        self._pattern = (
            re.compile("|".join(re.escape(form) for form in forms), re.IGNORECASE) if forms else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __repr__(self) -> str:
        # The secrets themselves never show.
        return f"Redactor({self._count} masked forms)"

    def mask(self, text: str) -> str:
        """``text`` with every secret replaced by :data:`MASK`."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def leaks(self, text: str) -> bool:
        """Whether ``text`` shows one of the secrets."""
        return self._pattern is not None and self._pattern.search(text) is not None

    def scrub(self, error: E) -> E | RedactedException:
        """``error`` with no secret left in what it shows.

        The error itself, its message, arguments, attributes and notes masked in place, and its
        chained causes replaced where they show a secret; or, for an exception whose text still
        shows one (a class rendering its text from elsewhere), a :class:`RedactedException`
        standing in for it.
        """
        if self._pattern is None:
            return error
        memo: dict[int, BaseException | None] = {id(error): error}
        self._mask_fields(error)
        self._relink(error, memo)
        if not self.leaks(_shown(error)):
            return error
        return self._stand_in(error, memo)

    # -- the chain --------------------------------------------------------------------------------

    def _link(
        self, error: BaseException | None, memo: dict[int, BaseException | None]
    ) -> BaseException | None:
        """A chained exception as it may be shown: itself, or a stand-in when it shows a secret."""
        if error is None:
            return None
        if id(error) in memo:
            return memo[id(error)]
        if self.leaks(_shown(error)):
            return self._stand_in(error, memo)
        memo[id(error)] = error
        self._relink(error, memo)
        return error

    def _stand_in(self, error: BaseException, memo: dict[int, BaseException | None]) -> RedactedException:
        kind = type(error)
        stand_in = RedactedException(
            self.mask(_summary(error)), f"{kind.__module__}.{kind.__qualname__}"
        ).with_traceback(error.__traceback__)
        memo[id(error)] = stand_in
        suppress = error.__suppress_context__
        stand_in.__cause__ = self._link(error.__cause__, memo)
        stand_in.__context__ = self._link(error.__context__, memo)
        stand_in.__suppress_context__ = suppress
        return stand_in

    def _relink(self, error: BaseException, memo: dict[int, BaseException | None]) -> None:
        """Point ``error``'s chain at scrubbed links, leaving what it suppresses as it was."""
        suppress = error.__suppress_context__
        cause = self._link(error.__cause__, memo)
        if cause is not error.__cause__:
            error.__cause__ = cause
        context = self._link(error.__context__, memo)
        if context is not error.__context__:
            error.__context__ = context
        error.__suppress_context__ = suppress

    # -- one exception's own fields -----------------------------------------------------------------

    def _mask_fields(self, error: BaseException) -> None:
        error.args = tuple(self.mask_value(argument) for argument in error.args)
        state = getattr(error, "__dict__", None)
        if isinstance(state, dict):
            for name, value in list(state.items()):
                masked = self.mask_value(value)
                if masked is not value:
                    state[name] = masked

    def mask_value(self, value: Any) -> Any:
        """``value`` with secrets masked: strings and the lists, tuples and dicts holding them
        keep their type; another object whose repr shows a secret becomes that repr, masked.
        The same object when nothing needed masking."""
        if isinstance(value, str):
            masked = self.mask(value)
            return value if masked == value else masked
        if isinstance(value, (list, tuple)):
            items = [self.mask_value(item) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return type(value)(items) if type(value) in (list, tuple) else items
        if isinstance(value, dict):
            pairs = {self.mask_value(key): self.mask_value(item) for key, item in value.items()}
            same = len(pairs) == len(value) and all(
                key in value and pairs[key] is value[key] for key in pairs
            )
            return value if same else pairs
        if isinstance(value, (int, float, bool, type(None))):
            return value
        shown = _safe_repr(value)
        return self.mask(shown) if self.leaks(shown) else value


def _safe_repr(value: object) -> str:
    try:
        return repr(value)[:_REPR_LIMIT]
    except Exception:
        return ""


def _summary(error: BaseException) -> str:
    """``module.Type: message`` (and notes), as a traceback's last line shows ``error``."""
    try:
        return "".join(traceback.format_exception_only(type(error), error)).strip()
    except Exception:
        return f"{type(error).__module__}.{type(error).__qualname__}"


def _shown(error: BaseException) -> str:
    """Everything of ``error`` itself that a traceback, a repr or a look at its attributes shows
    (not its chain: each link is looked at on its own)."""
    parts = [_summary(error), _safe_repr(error), _safe_repr(error.args)]
    state = getattr(error, "__dict__", None)
    if state:
        parts.append(_safe_repr(state))
    if isinstance(getattr(error, "exceptions", None), tuple):
        # An exception group is shown with its members and their chains.
        try:
            parts.extend(traceback.format_exception(error))
        except Exception:
            parts.append(_safe_repr(error.exceptions))  # type: ignore[attr-defined]
    return "\n".join(parts)


def _plain(values: Iterable[SecretValue]) -> tuple[str, ...]:
    plain = []
    for value in values:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str) and value:
            plain.append(value)
    return tuple(sorted(set(plain)))


@functools.lru_cache(maxsize=128)
def _cached(values: tuple[str, ...]) -> Redactor:
    return Redactor(values)


def redactor(values: Iterable[SecretValue]) -> Redactor:
    """The (cached) redactor masking ``values``."""
    return _cached(_plain(values))


def scrub_failure(error: Exception, holder: SecretHolder) -> Exception:
    """``error``, raised by a call to ``holder`` (a backend), with ``holder``'s secrets masked
    everywhere it shows them: see :meth:`Redactor.scrub`. The engine passes every exception
    leaving a backend call through this."""
    return redactor(holder.secrets()).scrub(error)


# -- the registry and the log filter -------------------------------------------------------------

# Weak values: a holder is forgotten when it dies. The dictionary's own callback takes no lock
# and defers removals while it is iterated, so a holder collected in the middle of a read (the
# garbage collector runs wherever Python allocates, this lock held or not) cannot deadlock it, as
# a callback taking this lock did.
_holders: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
_holders_lock = threading.Lock()


def register(holder: SecretHolder) -> None:
    """Mask ``holder``'s secrets in the project's log records for as long as it lives.

    Every backend is registered when it is made.
    """
    with _holders_lock:
        _holders[id(holder)] = holder


def registered() -> Redactor:
    """The redactor of every live registered holder's secrets."""
    with _holders_lock:
        holders = list(_holders.values())
    values: list[SecretValue] = []
    for holder in holders:
        try:
            values.extend(holder.secrets())
        except Exception:  # logging must not fail because one holder cannot answer
            continue
    return redactor(values)


class RedactingFilter(logging.Filter):
    """Masks the registered secrets in a record: its message and arguments, its exception (and
    that exception's chain) and its stack. It never drops a record.

    The record's exception is scrubbed in place (see :meth:`Redactor.scrub`), so that handlers
    formatting it themselves (JSON loggers, error trackers) see no secret either.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        masking = registered()
        if not masking:
            return True
        try:
            message = record.getMessage()
        except Exception:
            # Arguments that do not fit the message: mask each as logging would show it.
            record.msg = masking.mask(str(record.msg))
            if isinstance(record.args, tuple):
                record.args = tuple(masking.mask_value(argument) for argument in record.args)
        else:
            if masking.leaks(message):
                record.msg, record.args = masking.mask(message), ()
        if record.exc_info and record.exc_info[1] is not None:
            shown = masking.scrub(record.exc_info[1])
            record.exc_info = (type(shown), shown, shown.__traceback__)
        if record.exc_text:
            record.exc_text = masking.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = masking.mask(record.stack_info)
        return True


def module_logger(name: str) -> logging.Logger:
    """The logger of the project's module ``name`` (``__name__``), with a :class:`RedactingFilter`.

    A logger's filters see only the records logged to it, not those its children pass up, so
    each module logger carries its own filter.
    """
    install(name)
    return logging.getLogger(name)


def install(name: str = LOGGER_NAME) -> RedactingFilter:
    """The :class:`RedactingFilter` of logger ``name``, added unless it has one."""
    logger = logging.getLogger(name)
    for existing in logger.filters:
        if isinstance(existing, RedactingFilter):
            return existing
    added = RedactingFilter()
    logger.addFilter(added)
    return added


install()


def redacted_url(url: str) -> str:
    """``url`` (a Redis URL of a score cache or of shared rate limits) for messages and reprs:
    the user part of its address (``redis://user:pw@host``) or in its query (``?password=pw``, the
    only way to give one to a ``unix://`` socket) shows as ``***``. Never raises, even for a URL
    whose port is not a number."""
    parts = urlsplit(url)
    netloc = parts.netloc
    _, at, host = netloc.rpartition("@")
    if at:  # the whole user part: a name can be half a credential
        netloc = f"***@{host}"
    query = (
        "&".join(
            f"{name}=***" if name.lower() == "password" and sep else f"{name}{sep}{value}"
            for name, sep, value in (field.partition("=") for field in parts.query.split("&"))
        )
        if parts.query
        else ""
    )
    # Put back by replacement, not urlunsplit, which drops the "//" of "unix:///path".
    shown = url if netloc == parts.netloc else url.replace(parts.netloc, netloc, 1)
    return shown if query == parts.query else shown.replace("?" + parts.query, "?" + query, 1)
