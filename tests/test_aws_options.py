"""The AWS settings shared by every AWS class: models and regions, endpoints, credentials, secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, TextNode

from langchain_multirerank import BedrockRerank, SageMakerRerank
from llama_index_multirerank import BedrockRerank as LlamaBedrockRerank
from llama_index_multirerank import SageMakerRerank as LlamaSageMakerRerank
from multirerank.backends.bedrock import BedrockOptions, model_arn_for
from multirerank.backends.sagemaker import SageMakerOptions
from multirerank.engine import Reranker
from multirerank.errors import ConfigurationError
from multirerank.registry import backend_from_model
from multirerank.testing import Emulator
from tests.aws_support import isolated_aws_env  # noqa: F401 (autouse)
from tests.emulator_support import emulator_fixtures
from tests.sdk_support import loaded_after_importing

SECRET = "wJalrXUtnFEMI-not-a-real-secret"
COHERE = "cohere.rerank-v3-5:0"
AMAZON = "amazon.rerank-v1:0"


def arn(region: str, model: str = COHERE) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model}"


server, emu = emulator_fixtures("emu")


def keys(**overrides: Any) -> dict[str, Any]:
    return {"aws_access_key_id": "AKIDEXAMPLE", "aws_secret_access_key": SECRET, **overrides}


def signed_with(emu: Emulator) -> tuple[str, str]:
    """(access key id, region) of the last request's SigV4 credential scope."""
    authorization = emu.requests[-1].header("Authorization") or ""
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0].split("/")
    return scope[0], scope[2]


def sent_model_arn(emu: Emulator) -> str:
    body = emu.requests[-1].json()
    return str(
        body["rerankingConfiguration"]["bedrockRerankingConfiguration"]["modelConfiguration"]["modelArn"]
    )


def ask(compressor: BedrockRerank) -> None:
    compressor.rerank(["solar panel", "wind"], "solar")


# -- model ARN or model id -----------------------------------------------------------------------


def test_a_model_id_and_a_region_build_the_foundation_model_arn(emu: Emulator) -> None:
    compressor = BedrockRerank(model_arn=AMAZON, region_name="eu-central-1", base_url=emu.url, **keys())
    ask(compressor)
    assert sent_model_arn(emu) == arn("eu-central-1", AMAZON)
    assert signed_with(emu) == ("AKIDEXAMPLE", "eu-central-1")
    assert compressor.reranker.backend.describe()["model_arn"] == arn("eu-central-1", AMAZON)


def test_model_id_alias(emu: Emulator) -> None:
    postprocessor = LlamaBedrockRerank(model_id=COHERE, region_name="us-east-1", base_url=emu.url, **keys())
    assert postprocessor.model_arn == COHERE
    postprocessor.postprocess_nodes([NodeWithScore(node=TextNode(text="solar"))], query_str="solar")
    assert sent_model_arn(emu) == arn("us-east-1")


def test_an_arn_alone_picks_the_client_region(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    compressor = BedrockRerank(model_arn=arn("us-west-2"), base_url=emu.url, **keys())
    ask(compressor)
    assert sent_model_arn(emu) == arn("us-west-2")
    assert signed_with(emu)[1] == "us-west-2"


def test_an_arn_of_another_region_than_the_client_is_refused() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"model_arn is in us-east-1 but the bedrock-agent-runtime client is in us-west-2",
    ):
        BedrockRerank(model_arn=arn("us-east-1"), region_name="us-west-2", **keys())
    client = boto3.client("bedrock-agent-runtime", region_name="ca-central-1", **keys())
    with pytest.raises(ConfigurationError, match="client is in ca-central-1"):
        BedrockOptions(model_arn=arn("us-west-2"), client=client).build_backend()


@pytest.mark.parametrize("model", [AMAZON, arn("us-east-1", AMAZON)])
def test_a_model_the_region_does_not_serve_is_refused(model: str) -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"amazon.rerank-v1:0 is not offered in us-east-1; it is served in ap-northeast-1",
    ):
        BedrockOptions(model_arn=model, region_name="us-east-1", **keys()).build_backend()


@pytest.mark.parametrize(
    "model",
    [
        "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.cohere.rerank-v3-5:0",
        "arn:aws:sagemaker:us-west-2:123456789012:endpoint/reranker",
    ],
)
def test_only_foundation_model_arns_are_accepted(model: str) -> None:
    with pytest.raises(ConfigurationError, match="is not a foundation-model ARN"):
        model_arn_for(model, "us-west-2")


def test_arns_for_other_partitions_and_new_models() -> None:
    assert (
        model_arn_for(COHERE, "cn-north-1")
        == "arn:aws-cn:bedrock:cn-north-1::foundation-model/cohere.rerank-v3-5:0"
    )
    assert model_arn_for("acme.rerank-v9:0", "sa-east-1") == arn("sa-east-1", "acme.rerank-v9:0")


def test_a_model_id_without_any_region_is_refused(emu: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="region"):
        BedrockOptions(model_arn=COHERE, **keys()).build_backend()
    with pytest.raises(ConfigurationError, match="region"):
        BedrockOptions(model_arn=COHERE, endpoint_url=emu.url, **keys()).build_backend()


def test_blank_or_spaced_models_are_refused() -> None:
    with pytest.raises(ValueError, match="model_arn"):
        BedrockRerank(model_arn="  ", region_name="us-west-2", **keys())
    with pytest.raises(ValueError, match="model_arn"):
        BedrockRerank(model_arn="cohere rerank", region_name="us-west-2", **keys())


# -- endpoint_url / base_url ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["base_url", "endpoint_url"])
def test_base_url_is_really_used(emu: Emulator, name: str) -> None:
    compressor = BedrockRerank(model_arn=COHERE, region_name="us-west-2", **{name: emu.url}, **keys())
    assert compressor.endpoint_url == emu.url
    result = compressor.compress_documents(
        [Document(page_content="solar"), Document(page_content="wind")], "solar"
    )
    assert [document.page_content for document in result] == ["solar", "wind"]
    assert [request.path for request in emu.requests] == ["/rerank"]


def test_base_url_for_sagemaker_in_both_frameworks(emu: Emulator) -> None:
    SageMakerRerank(endpoint_name="ep", region_name="us-west-2", base_url=emu.url, **keys()).rerank(
        ["solar"], "solar"
    )
    LlamaSageMakerRerank(
        endpoint_name="ep", region_name="us-west-2", endpoint_url=emu.url, **keys()
    ).postprocess_nodes([NodeWithScore(node=TextNode(text="solar"))], query_str="solar")
    assert [request.path for request in emu.requests] == ["/endpoints/ep/invocations"] * 2


def test_a_base_url_without_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="endpoint_url"):
        BedrockRerank(model_arn=COHERE, region_name="us-west-2", base_url="localhost:8080", **keys())


# -- credentials ---------------------------------------------------------------------------------


def test_plain_string_keys_are_accepted_and_hidden(emu: Emulator) -> None:
    compressor = BedrockRerank(
        model_arn=COHERE,
        region_name="us-west-2",
        base_url=emu.url,
        aws_session_token="session-token-value",
        **keys(),
    )
    ask(compressor)
    assert signed_with(emu) == ("AKIDEXAMPLE", "us-west-2")
    assert emu.requests[-1].header("X-Amz-Security-Token") == "session-token-value"
    shown = [repr(compressor), str(compressor), compressor.model_dump_json(), repr(compressor.reranker)]
    assert not any(SECRET in text or "session-token-value" in text for text in shown)


def test_secrets_stay_out_of_llama_index_serialisation(emu: Emulator) -> None:
    postprocessor = LlamaBedrockRerank(model_arn=COHERE, region_name="us-west-2", base_url=emu.url, **keys())
    assert SECRET not in postprocessor.to_json()
    assert "aws_secret_access_key" not in postprocessor.to_dict()
    assert SECRET not in repr(postprocessor)
    assert "client" not in postprocessor.to_dict()


def test_llama_index_serialisation_with_runtime_objects(emu: Emulator) -> None:
    from multirerank.backends.sagemaker import PAYLOAD_FORMATS, PayloadFormat

    custom = PayloadFormat("custom", PAYLOAD_FORMATS["tei"].build, PAYLOAD_FORMATS["tei"].parse)
    postprocessor = LlamaSageMakerRerank(
        endpoint_name="ep",
        region_name="us-west-2",
        base_url=emu.url,
        config=Config(read_timeout=5),
        payload_format=custom,
        **keys(),
    )
    dumped = postprocessor.to_dict()
    assert dumped["payload_format"] == "custom"
    assert "config" not in dumped and SECRET not in postprocessor.to_json()


def test_a_wrongly_typed_key_is_not_echoed() -> None:
    with pytest.raises(ValueError, match="aws_secret_access_key") as caught:
        BedrockRerank(
            model_arn=COHERE,
            region_name="us-west-2",
            aws_access_key_id="AKID",
            aws_secret_access_key=987654321,
        )
    assert "987654321" not in str(caught.value)


def test_environment_credentials(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ca-central-1")
    compressor = BedrockRerank(model_arn=COHERE, base_url=emu.url)
    assert compressor.aws_access_key_id is not None
    assert compressor.aws_access_key_id.get_secret_value() == "AKIDFROMENV"
    ask(compressor)
    assert signed_with(emu) == ("AKIDFROMENV", "ca-central-1")
    assert emu.requests[-1].header("X-Amz-Security-Token") == "env-token"
    assert sent_model_arn(emu) == arn("ca-central-1")


@pytest.fixture
def profile_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text("[profile team]\nregion = eu-central-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[team]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = {SECRET}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))


@pytest.mark.usefixtures("profile_files")
def test_a_named_profile_gives_keys_and_region(emu: Emulator) -> None:
    ask(BedrockRerank(model_arn=COHERE, credentials_profile_name="team", base_url=emu.url))
    assert signed_with(emu) == ("AKIDPROFILE", "eu-central-1")
    assert sent_model_arn(emu) == arn("eu-central-1")


@pytest.mark.usefixtures("profile_files")
def test_the_profile_from_aws_profile(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "team")
    compressor = SageMakerRerank(endpoint_name="ep", base_url=emu.url)
    assert compressor.credentials_profile_name == "team"
    compressor.rerank(["solar"], "solar")
    assert signed_with(emu) == ("AKIDPROFILE", "eu-central-1")


@pytest.mark.usefixtures("profile_files")
def test_explicit_keys_win_over_the_profile_but_keep_its_region(emu: Emulator) -> None:
    ask(BedrockRerank(model_arn=COHERE, credentials_profile_name="team", base_url=emu.url, **keys()))
    assert signed_with(emu) == ("AKIDEXAMPLE", "eu-central-1")


@pytest.mark.usefixtures("profile_files")
def test_an_unknown_profile_is_named() -> None:
    with pytest.raises(ConfigurationError, match=r"AWS profile 'nobody'.*credentials_profile_name"):
        BedrockOptions(
            model_arn=COHERE, credentials_profile_name="nobody", region_name="us-west-2"
        ).build_backend()


def test_an_access_key_without_its_secret_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        ConfigurationError, match=r"aws_secret_access_key \(or AWS_SECRET_ACCESS_KEY\) is required"
    ):
        BedrockRerank(model_arn=COHERE, region_name="us-west-2", aws_access_key_id="AKID")
    with pytest.raises(ConfigurationError, match=r"aws_access_key_id \(or AWS_ACCESS_KEY_ID\) is required"):
        SageMakerOptions(
            endpoint_name="ep", region_name="us-west-2", aws_secret_access_key=SECRET
        ).build_backend()
    with pytest.raises(ConfigurationError, match="aws_session_token needs"):
        SageMakerOptions(endpoint_name="ep", region_name="us-west-2", aws_session_token="t").build_backend()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
    with pytest.raises(ConfigurationError, match="AWS_SECRET_ACCESS_KEY"):
        SageMakerOptions(endpoint_name="ep", region_name="us-west-2").build_backend()


# -- clients and botocore config -----------------------------------------------------------------


def test_a_given_client_is_used_and_left_open(emu: Emulator) -> None:
    client = boto3.client("bedrock-agent-runtime", region_name="us-west-2", endpoint_url=emu.url, **keys())
    compressor = BedrockRerank(model_arn=COHERE, client=client)
    assert compressor.reranker.backend.client is client  # type: ignore[attr-defined]
    ask(compressor)
    compressor.reranker.close()
    client.rerank(
        queries=[{"type": "TEXT", "textQuery": {"text": "q"}}],
        sources=[{"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": "d"}}}],
        rerankingConfiguration={
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {"modelConfiguration": {"modelArn": arn("us-west-2")}},
        },
    )
    assert len(emu.requests) == 2


def test_config_as_a_botocore_config_or_a_dict() -> None:
    backend = BedrockOptions(
        model_arn=COHERE,
        region_name="us-west-2",
        config={"read_timeout": 7, "retries": {"total_max_attempts": 2}},
        **keys(),
    ).build_backend()
    assert backend.client.meta.config.read_timeout == 7
    backend = BedrockOptions(
        model_arn=COHERE, region_name="us-west-2", config=Config(connect_timeout=3), **keys()
    ).build_backend()
    assert backend.client.meta.config.connect_timeout == 3
    with pytest.raises(ConfigurationError, match=r"config must be a botocore\.config\.Config"):
        BedrockOptions(model_arn=COHERE, region_name="us-west-2", config=42, **keys()).build_backend()
    with pytest.raises(ConfigurationError, match="config:"):
        BedrockOptions(
            model_arn=COHERE, region_name="us-west-2", config={"no_such_setting": 1}, **keys()
        ).build_backend()


# -- model strings -------------------------------------------------------------------------------


def test_model_string_option_errors_name_the_field() -> None:
    with pytest.raises(ConfigurationError, match="no_such_option"):
        backend_from_model(f"bedrock/{COHERE}", region_name="us-west-2", no_such_option=1)
    with pytest.raises(ConfigurationError, match="not both"):
        backend_from_model(f"bedrock/{COHERE}", model_arn=COHERE)
    with pytest.raises(ConfigurationError, match="model_arn: Field required"):
        backend_from_model("bedrock", region_name="us-west-2")
    with pytest.raises(ConfigurationError, match="endpoint_name"):
        backend_from_model("sagemaker/bad_name!", region_name="us-west-2")
    with pytest.raises(ConfigurationError, match="max_documents_per_request"):
        backend_from_model("sagemaker/ep", region_name="us-west-2", max_documents_per_request=0)


def test_a_model_string_reranker_reaches_the_emulator(emu: Emulator) -> None:
    with Reranker(f"bedrock/{AMAZON}", region_name="us-west-2", endpoint_url=emu.url, **keys()) as engine:
        response = engine.rerank("solar", ["wind", "solar panel"])
    assert [result.index for result in response] == [1, 0]
    assert response.provider == "bedrock" and response.model == arn("us-west-2", AMAZON)
    assert response.metadata["region"] == "us-west-2"


# -- imports -------------------------------------------------------------------------------------


def test_importing_the_adapters_loads_no_aws_sdk() -> None:
    imported = [
        "langchain_multirerank",
        "multirerank.backends.bedrock",
        "multirerank.backends.sagemaker",
        "multirerank.testing.bedrock",
        "multirerank.testing.sagemaker",
    ]
    assert loaded_after_importing(imported, ["boto3", "botocore", "llama_index"]) == []


@pytest.mark.parametrize(
    ("config", "mode", "attempts"),
    [
        (None, "standard", None),
        ({"retries": {"total_max_attempts": 5}}, "standard", 5),
        ({"retries": {"mode": "legacy"}}, "legacy", None),
        (Config(retries={"mode": "adaptive", "total_max_attempts": 2}), "adaptive", 2),
    ],
)
def test_botocore_retry_mode_is_standard_unless_the_user_names_one(
    config: Any, mode: str, attempts: int | None
) -> None:
    """botocore's default mode changed in 1.44; naming it keeps retries alike on every version."""
    options = BedrockOptions(
        model_arn="cohere.rerank-v3-5:0",
        region_name="us-west-2",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=config,
    )
    retries = options.build_backend().client.meta.config.retries
    assert retries["mode"] == mode
    if attempts is not None:
        assert attempts in (retries.get("total_max_attempts"), retries.get("max_attempts"))
