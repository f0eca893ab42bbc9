"""AWS settings shared by every AWS backend and adapter, and the translation of botocore errors.

The fields mirror langchain-aws (``region_name``, ``credentials_profile_name``, ``aws_*`` keys,
``endpoint_url`` alias ``base_url``, ``config``) so its users switch by changing an import. boto3
is imported only when a client is built.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from multirerank.backends.aws_json import encode_json_bodies_directly
from multirerank.backends.base import Backend
from multirerank.errors import (
    ConfigurationError,
    RerankError,
)
from multirerank.options import env_secret, env_text, env_value
from multirerank.redaction import SecretValue
from multirerank.types import BatchResult, DocumentInput
from multirerank.vendor_spec import ErrorRules
from multirerank.vendors import AWS_ENV

if TYPE_CHECKING:
    from multirerank.backends.aws_async import AioClients


@functools.cache
def _shared_loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


#: botocore's retry settings unless the user's ``config`` names a mode: "standard" mode retries
#: throttling, 500/502/503/504 and dropped connections, 3 attempts in all (botocore's retry docs).
DEFAULT_RETRIES: Mapping[str, Any] = {"mode": "standard"}

#: botocore settings the user's ``config`` may override. Connections: as many as the engine's
#: thread pool runs requests (``multirerank.engine.POOL_THREADS``) (botocore keeps 10 and drops the rest after use). No parameter
#: validation: the engine has checked every input, and botocore's check of each document costs
#: about a third of a request's CPU.
DEFAULT_CONFIG: Mapping[str, Any] = {"max_pool_connections": 64, "parameter_validation": False}


class AWSClientOptions(BaseModel):
    """How to reach an AWS service: a ready boto3 client, or the settings to build one.

    Settings left unset fall back the way boto3 does: ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` and
    the profile's region, ``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID`` and friends, then boto3's own chain
    (SSO, instance roles...). Keys are secrets: plain strings are accepted and never shown.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        arbitrary_types_allowed=True,
        hide_input_in_errors=True,
        protected_namespaces=(),
    )

    client: Any = Field(
        default=None,
        exclude=True,
        repr=False,
        description="A ready boto3 client; the settings below are then unused.",
    )
    region_name: str | None = Field(
        default=None,
        description="AWS region, e.g. 'us-west-2'; AWS_REGION, AWS_DEFAULT_REGION or the profile's otherwise.",
    )
    credentials_profile_name: str | None = Field(
        default_factory=env_text(*AWS_ENV["credentials_profile_name"]),
        description="Profile in the AWS config files.",
    )
    # Secrets are left out of every dump (LlamaIndex's to_json, LangChain's serialisation).
    aws_access_key_id: SecretStr | None = Field(
        default_factory=env_secret(*AWS_ENV["aws_access_key_id"]), exclude=True
    )
    aws_secret_access_key: SecretStr | None = Field(
        default_factory=env_secret(*AWS_ENV["aws_secret_access_key"]), exclude=True
    )
    aws_session_token: SecretStr | None = Field(
        default_factory=env_secret(*AWS_ENV["aws_session_token"]), exclude=True
    )
    endpoint_url: str | None = Field(
        default=None, alias="base_url", description="Send requests here instead of the regional AWS endpoint."
    )
    config: Any = Field(
        default=None,
        exclude=True,
        description="A botocore.config.Config, or a dict of its arguments (retries, timeouts...).",
    )

    @field_validator("endpoint_url")
    @classmethod
    def _check_endpoint_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("endpoint_url (base_url) must start with http:// or https://")
        return value

    @field_validator("region_name", "credentials_profile_name")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return (value.strip() or None) if isinstance(value, str) else value

    def build_client(self, service_name: str, *, region_hint: str | None = None) -> Any:
        """The user's client, or a new client for ``service_name`` (what ``boto3.client`` returns).

        ``region_hint`` (a region named by the model itself) is used when no region is set
        explicitly; the environment and the profile come after it.
        """
        if self.client is not None:
            return self.client
        try:
            import botocore.session
            from botocore.exceptions import BotoCoreError, NoRegionError, ProfileNotFound
        except ImportError as error:
            raise ConfigurationError("AWS backends need boto3: pip install 'multirerank[aws]'") from error
        options = self._session_options()
        profile = options.pop("profile_name", None)
        session = botocore.session.Session()
        # Service models are parsed once per process instead of once per client (~4x faster).
        session.register_component("data_loader", _shared_loader())
        try:
            if profile is not None:
                session.set_config_variable("profile", profile)
            region = (
                self.region_name
                or region_hint
                or env_value(*AWS_ENV["region_name"])
                or session.get_config_variable("region")
            )
            client = session.create_client(
                service_name,
                region_name=region,
                endpoint_url=self.endpoint_url,
                config=self._botocore_config(),
                **options,
            )
        except ProfileNotFound as error:
            raise ConfigurationError(
                f"AWS profile {error.kwargs.get('profile')!r} (credentials_profile_name or AWS_PROFILE) "
                "is not in the AWS config files"
            ) from None
        except NoRegionError:
            raise ConfigurationError(
                f"no AWS region for {service_name}: set region_name, or AWS_REGION in the environment"
            ) from None
        except (BotoCoreError, ValueError) as error:
            raise ConfigurationError(f"cannot build the {service_name} client: {error}") from None
        encode_json_bodies_directly(client)
        return client

    def build_async_clients(self, service_name: str, client: Any) -> AioClients | None:
        """The aiobotocore clients twinning ``client`` (built by :meth:`build_client`), or None
        when the user passed their own boto3 client, whose settings are not known, or aiobotocore
        is not installed (boto3 alone, without the extra): async calls then run on the pool."""
        if self.client is not None or importlib.util.find_spec("aiobotocore") is None:
            return None
        from multirerank.backends.aws_async import AioClients, AioClientSettings

        options = self._session_options()
        profile = options.pop("profile_name", None)
        settings = AioClientSettings(
            service_name,
            region_name=client_region(client),
            endpoint_url=self.endpoint_url,
            profile=profile,
            config=self._botocore_config(),
            keys=tuple((name, SecretStr(value)) for name, value in options.items()),
        )
        return AioClients(settings)

    def _session_options(self) -> dict[str, Any]:
        explicit = self.model_fields_set
        keys_given = bool({"aws_access_key_id", "aws_secret_access_key", "aws_session_token"} & explicit)
        profile = self.credentials_profile_name
        options: dict[str, Any] = {}
        if profile and (not keys_given or "credentials_profile_name" in explicit):
            options["profile_name"] = profile
        # Keys from the environment are boto3's to find; keys given here override a profile.
        if keys_given or not profile:
            options.update(self._key_options())
        return options

    def _key_options(self) -> dict[str, str]:
        key_id, secret, token = self.aws_access_key_id, self.aws_secret_access_key, self.aws_session_token
        if key_id is None and secret is None:
            if token is not None:
                raise ConfigurationError(
                    "aws_session_token needs aws_access_key_id and aws_secret_access_key as well"
                )
            return {}
        if secret is None:
            raise ConfigurationError(
                "aws_secret_access_key (or AWS_SECRET_ACCESS_KEY) is required when aws_access_key_id is set"
            )
        if key_id is None:
            raise ConfigurationError(
                "aws_access_key_id (or AWS_ACCESS_KEY_ID) is required when aws_secret_access_key is set"
            )
        options = {
            "aws_access_key_id": key_id.get_secret_value(),
            "aws_secret_access_key": secret.get_secret_value(),
        }
        if token is not None:
            options["aws_session_token"] = token.get_secret_value()
        return options

    def _botocore_config(self) -> Any:
        """The user's botocore Config, on top of :data:`DEFAULT_CONFIG` and :data:`DEFAULT_RETRIES`."""
        from botocore.config import Config

        if self.config is None or isinstance(self.config, Config):
            given = self.config
        elif isinstance(self.config, Mapping):
            try:
                given = Config(**self.config)
            except TypeError as error:
                raise ConfigurationError(f"config: {error}") from None
        else:
            raise ConfigurationError(
                f"config must be a botocore.config.Config or a dict, got {type(self.config).__name__}"
            )
        chosen: Mapping[str, Any] = getattr(given, "retries", None) or {}
        # botocore's default mode is "legacy" before 1.44 (which aiobotocore pins) and "standard"
        # from it: naming it keeps the retries the same whichever botocore is installed.
        retries: Any = chosen if chosen.get("mode") else {**DEFAULT_RETRIES, **chosen}
        defaults = Config(**DEFAULT_CONFIG)
        merged = defaults if given is None else defaults.merge(given)
        return merged.merge(Config(retries=retries))


class AWSBackend(Backend):
    """What the AWS backends share: a boto3 client they may own, and its region in metadata.

    botocore retries throttling codes, 500/502/503/504 answers and dropped connections itself, so
    by default the engine adds no retries; a service with transient errors botocore leaves alone
    (SageMaker's) raises ``max_retries`` and narrows ``should_retry`` to those.
    """

    max_retries = 0

    def __init__(self, client: Any, *, owns_client: bool, async_clients: AioClients | None = None) -> None:
        self.client = client
        #: The region the client signs for, read once: a boto3 client's region never changes,
        #: and every response's metadata carries it.
        self.region = client_region(client)
        self._owns_client = owns_client
        # aiobotocore twins of ``client`` (one per event loop), when its settings are known; a
        # backend that does not own its boto3 client (a with_request_fields twin) shares them too.
        self.async_clients = async_clients
        self._owns_async_clients = owns_client

    @property
    def has_native_async(self) -> bool:
        """Whether :meth:`arerank_batch` awaits an aiobotocore client. Not for a boto3 client the
        user passed in, whose settings cannot be copied: the engine then runs it on its pool."""
        return self.async_clients is not None

    async def arerank_batch(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        """:meth:`rerank_batch` through the aiobotocore client, run on the process's AWS I/O loop
        (see :mod:`multirerank.backends.aws_async`) and awaited from the caller's loop."""
        from multirerank.backends.aws_async import on_io_loop

        return await on_io_loop(self.arerank_on_io_loop(query, documents, top_n))

    async def arerank_on_io_loop(
        self, query: str, documents: Sequence[DocumentInput], top_n: int | None
    ) -> BatchResult:
        """The async request itself, running on the I/O loop; each AWS backend implements it."""
        raise NotImplementedError

    async def async_client(self) -> Any:
        """The aiobotocore client; it lives on the AWS I/O loop, and only requests run there use it."""
        from multirerank.backends.aws_async import on_io_loop

        if self.async_clients is None:
            raise NotImplementedError(
                f"{type(self).__name__} has no async client (it was given a boto3 client); "
                "call rerank_batch, or let the Reranker run it on its thread pool"
            )
        return await on_io_loop(self.async_clients.get())

    def describe(self) -> dict[str, Any]:
        return {"region": self.region}

    def score_identity(self) -> Mapping[str, Any]:
        # An endpoint or model name means another deployment in another region.
        return {**super().score_identity(), "region": self.region}

    def secrets(self) -> Iterable[SecretValue]:
        """The access key id, secret key and session token the clients sign with, sync and
        async, whether given or found by boto3 (environment, profile, assumed role)."""
        found = client_credentials(self.client)
        if self.async_clients is not None:
            found += self.async_clients.secrets()
        return found

    def close(self) -> None:
        """Close the clients this backend made; async ones of running loops close with their loop."""
        self._close_sync_client()
        if self._owns_async_clients and self.async_clients is not None:
            self.async_clients.close()

    async def aclose(self) -> None:
        """Close the clients this backend made, this loop's async client included."""
        self._close_sync_client()
        if self._owns_async_clients and self.async_clients is not None:
            await self.async_clients.aclose()

    def _close_sync_client(self) -> None:
        # A client the caller passed in is theirs to close.
        if self._owns_client:
            self._owns_client = False
            close_client(self.client)


def client_region(client: Any) -> str | None:
    """The region a boto3 client signs for."""
    meta = getattr(client, "meta", None)
    region = getattr(meta, "region_name", None)
    return region if isinstance(region, str) else None


def client_credentials(client: Any) -> list[str]:
    """The access key id, secret key and session token a botocore (or aiobotocore) client signs
    with, as it holds them now: read as stored, since asking refreshable credentials for them
    may refresh them over the network."""
    signer = getattr(client, "_request_signer", None)
    credentials = getattr(signer, "_credentials", None)
    found: list[str] = []
    # aiobotocore's refreshable credentials also keep a frozen copy (a named tuple).
    for holder in (credentials, _stored(credentials).get("_frozen_credentials")):
        state = _stored(holder)
        if not state and isinstance(holder, tuple) and hasattr(holder, "_asdict"):
            state = dict(holder._asdict())
        for name in ("access_key", "secret_key", "token"):
            value = state.get(name, state.get(f"_{name}"))
            if isinstance(value, str):
                found.append(value)
    return found


def _stored(thing: object) -> dict[str, Any]:
    """An object's attributes as stored (no property runs), or nothing."""
    state = getattr(thing, "__dict__", None)
    return state if isinstance(state, dict) else {}


def close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        close()


@functools.cache
def call_errors() -> tuple[type[Exception], ...]:
    """What a boto3 call raises for the service's or the network's failures: botocore's
    ``ClientError`` and ``BotoCoreError``. Imported on first need, and named in ``except``
    clauses, which Python evaluates only when something was raised: a call that succeeds runs
    no import statement."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def translate_aws_error(error: Exception, *, provider: str, codes: ErrorRules) -> RerankError:
    """The project's error for what botocore (or aiobotocore) raised, by the exception table of
    ``codes``, the service's error rules (``multirerank.vendors``): a ``ClientError`` by its code,
    else by its HTTP status. Throttling is retryable, and so are server faults (5xx) and lost
    connections.
    """

    def client_error(error: Any) -> RerankError:
        details = error.response.get("Error", {})
        code = str(details.get("Code") or "") or None
        message = str(details.get("Message") or "") or (code or "request failed")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return aws_error(message, provider=provider, code=code, status=status, codes=codes)

    translated = codes.translate(error, provider=provider, handlers={"client_error": client_error})
    assert translated is not None, "the last rule matches every exception"
    return translated


def aws_error(
    message: str,
    *,
    provider: str,
    code: str | None,
    status: int | None,
    codes: ErrorRules,
) -> RerankError:
    """An error of the type ``codes`` gives the code (the service's, then AWS's common ones), or
    else the status; a server fault answered with a status below 500 is not retryable."""
    return codes.error(message, provider=provider, status=status, code=code)
