"""JSON request bodies encoded in one step, for the botocore clients multirerank builds.

botocore serializes a rest-json body by walking the operation's input shape in Python, one
``_serialize`` call per value: about 6 us per document of a Bedrock ``Rerank`` request, so a
600-document request spends some 3.5 ms of the client's ~6 ms of CPU there, under the GIL, and
concurrent callers on one process wait for each other's serialization. For a shape whose JSON
body is the parameters as given (every member in the body under its own name; no timestamps,
blobs or floats, which botocore converts), ``json.dumps`` of the parameters produces the same
bytes botocore would (``tests/test_aws_json.py`` compares them) in a tenth of the time.

Only clients multirerank creates get it: a client the user passes in is theirs, and is left as
it is. A shape that does not qualify, a protocol other than rest-json, or a botocore whose
serializer is laid out differently keeps botocore's own serialization.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["encode_json_bodies_directly", "is_plain_json"]

#: Shape types whose value botocore's JSON serializers write as given.
_AS_GIVEN = frozenset({"string", "integer", "long", "boolean"})


def is_plain_json(shape: Any) -> bool:
    """Whether botocore's JSON body for ``shape`` (a ``botocore.model.Shape``) is its value as
    given: structures (members under their own names), lists, string-keyed maps, documents,
    strings, integers and booleans; not timestamps, blobs, floats (NaN becomes a string) or a
    member renamed on the wire."""
    return _plain(shape, set())


def _plain(shape: Any, seen: set[str]) -> bool:
    if shape.name in seen:  # a recursive shape: decided where it was first met
        return True
    seen.add(shape.name)
    kind = shape.type_name
    if kind == "structure":
        if getattr(shape, "is_document_type", False):
            return True
        return all(
            "name" not in member.serialization
            and "location" not in member.serialization
            and _plain(member, seen)
            for member in shape.members.values()
        )
    if kind == "list":
        return _plain(shape.member, seen)
    if kind == "map":
        return shape.key.type_name == "string" and _plain(shape.value, seen)
    return kind in _AS_GIVEN


def encode_json_bodies_directly(client: Any) -> None:
    """Give ``client`` (a boto3 or aiobotocore client multirerank built) the one-step encoding
    of plain JSON bodies (see the module's docstring). A no-op where it does not apply."""
    try:
        from botocore.serialize import RestJSONSerializer
    except ImportError:  # pragma: no cover - botocore ships it in every supported release
        return
    serializer: Any = getattr(client, "_serializer", None)
    # With parameter validation on, botocore wraps the serializer in a validating decorator.
    serializer = getattr(serializer, "_serializer", serializer)
    if not isinstance(serializer, RestJSONSerializer):
        return
    target: Any = serializer  # the method replaced below is not in botocore's type stubs
    original: Callable[[Any, Any], bytes] = target._serialize_body_params
    verdicts: dict[str, bool] = {}

    def serialize_body_params(params: Any, shape: Any) -> bytes:
        plain = verdicts.get(shape.name)
        if plain is None:
            plain = verdicts[shape.name] = is_plain_json(shape)
        if plain:
            return json.dumps(params).encode("utf-8")
        return original(params, shape)

    target._serialize_body_params = serialize_body_params
