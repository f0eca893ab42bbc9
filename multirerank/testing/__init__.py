"""The wire emulator: vendors' rerank APIs on 127.0.0.1, for offline tests of real SDK clients.

from multirerank.testing import Emulator
with Emulator() as emulator:
    client = boto3.client("bedrock-agent-runtime", endpoint_url=emulator.url, ...)
"""

from multirerank.testing.server import (
    CORRUPTIONS,
    Emulator,
    Fault,
    Request,
    Response,
    Route,
    lexical_scorer,
)

__all__ = ["CORRUPTIONS", "Emulator", "Fault", "Request", "Response", "Route", "lexical_scorer"]
