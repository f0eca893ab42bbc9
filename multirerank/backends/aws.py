"""AWS settings shared by every AWS backend and adapter, and the translation of botocore errors.

The fields mirror langchain-aws (``region_name``, ``credentials_profile_name``, ``aws_*`` keys,
``endpoint_url`` alias ``base_url``, ``config``) so its users switch by changing an import. boto3
is imported only when a client is built.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from multirerank.backends.base import Backend
from multirerank.errors import (
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    MalformedResponseError,
    ProviderError,
    RerankError,
    RerankTimeoutError,
    ThrottledError,
    error_for_status,
)
from multirerank.options import env_secret, env_text, env_value

#: Error codes every AWS service may answer, whatever its own model lists.
COMMON_ERROR_CODES: Mapping[str, type[RerankError]] = {
    "AccessDeniedException": AuthenticationError,
    "UnrecognizedClientException": AuthenticationError,
    "InvalidSignatureException": AuthenticationError,
    "IncompleteSignature": AuthenticationError,
    "MissingAuthenticationToken": AuthenticationError,
    "ExpiredTokenException": AuthenticationError,
    "ExpiredToken": AuthenticationError,
    "InvalidClientTokenId": AuthenticationError,
    "ThrottlingException": ThrottledError,
    "Throttling": ThrottledError,
    "TooManyRequestsException": ThrottledError,
    "RequestLimitExceeded": ThrottledError,
}


@functools.cache
def _shared_loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


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
        default_factory=env_text("AWS_PROFILE"), description="Profile in the AWS config files."
    )
    # Secrets are left out of every dump (LlamaIndex's to_json, LangChain's serialisation).
    aws_access_key_id: SecretStr | None = Field(default_factory=env_secret("AWS_ACCESS_KEY_ID"), exclude=True)
    aws_secret_access_key: SecretStr | None = Field(
        default_factory=env_secret("AWS_SECRET_ACCESS_KEY"), exclude=True
    )
    aws_session_token: SecretStr | None = Field(default_factory=env_secret("AWS_SESSION_TOKEN"), exclude=True)
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
                or env_value("AWS_REGION", "AWS_DEFAULT_REGION")
                or session.get_config_variable("region")
            )
            return session.create_client(
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
        from botocore.config import Config

        if self.config is None or isinstance(self.config, Config):
            return self.config
        if isinstance(self.config, Mapping):
            try:
                return Config(**self.config)
            except TypeError as error:
                raise ConfigurationError(f"config: {error}") from None
        raise ConfigurationError(
            f"config must be a botocore.config.Config or a dict, got {type(self.config).__name__}"
        )


class AWSBackend(Backend):
    """What the AWS backends share: a boto3 client they may own, and its region in metadata.

    botocore retries throttling codes, 500/502/503/504 answers and dropped connections itself, so
    by default the engine adds no retries; a service with transient errors botocore leaves alone
    (SageMaker's) raises ``max_retries`` and narrows ``should_retry`` to those.
    """

    max_retries = 0

    def __init__(self, client: Any, *, owns_client: bool) -> None:
        self.client = client
        self._owns_client = owns_client

    def describe(self) -> dict[str, Any]:
        return {"region": client_region(self.client)}

    def close(self) -> None:
        # A client the caller passed in is theirs to close.
        if self._owns_client:
            self._owns_client = False
            close_client(self.client)


def client_region(client: Any) -> str | None:
    """The region a boto3 client signs for."""
    meta = getattr(client, "meta", None)
    region = getattr(meta, "region_name", None)
    return region if isinstance(region, str) else None


def close_client(client: Any) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        close()


def translate_aws_error(
    error: Exception, *, provider: str, codes: Mapping[str, type[RerankError]]
) -> RerankError:
    """The project's error for a botocore exception.

    ``codes`` maps the service's error codes onto error types; unknown codes fall back to the
    HTTP status. Throttling is retryable, and so are server faults (5xx) and lost connections.
    """
    from botocore import exceptions as boto_errors

    if isinstance(error, boto_errors.ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code") or "") or None
        message = str(details.get("Message") or "") or (code or "request failed")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return aws_error(message, provider=provider, code=code, status=status, codes=codes)
    if isinstance(error, (boto_errors.ReadTimeoutError, boto_errors.ConnectTimeoutError)):
        return RerankTimeoutError(f"{provider} did not answer in time: {error}", provider=provider)
    if isinstance(
        error,
        (
            boto_errors.NoCredentialsError,
            boto_errors.PartialCredentialsError,
            boto_errors.CredentialRetrievalError,
            boto_errors.NoAuthTokenError,
            boto_errors.TokenRetrievalError,
        ),
    ):
        return AuthenticationError(f"AWS credentials are missing or unusable: {error}", provider=provider)
    if isinstance(error, boto_errors.ParamValidationError):
        return BadRequestError(f"{provider} request rejected before sending: {error}", provider=provider)
    if isinstance(error, (boto_errors.HTTPClientError, boto_errors.ConnectionError)):
        return ProviderError(f"connection to {provider} failed: {error}", provider=provider)
    if type(error).__name__ == "ResponseParserError":
        return MalformedResponseError(f"{provider} answer could not be parsed: {error}", provider=provider)
    return ProviderError(
        f"{provider} call failed: {type(error).__name__}: {error}", provider=provider, retryable=False
    )


def aws_error(
    message: str,
    *,
    provider: str,
    code: str | None,
    status: int | None,
    codes: Mapping[str, type[RerankError]],
) -> RerankError:
    """An error of the type ``codes`` (or the common AWS codes, or the status) names."""
    kind = codes.get(code or "") or COMMON_ERROR_CODES.get(code or "")
    if kind is None:
        return error_for_status(status or 500, message, provider=provider, code=code)
    retryable = kind is ThrottledError or (
        issubclass(kind, ProviderError) and (status is None or status >= 500)
    )
    return kind(message, provider=provider, status=status, code=code, retryable=retryable)
