"""``multirerank emulate``: run the wire emulator in the foreground for a pipeline under test."""

from __future__ import annotations

import argparse
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multirerank.cli import SubParsers


def add_emulate_parser(subparsers: SubParsers) -> None:
    parser = subparsers.add_parser(
        "emulate",
        help="serve the vendors' rerank APIs on 127.0.0.1 for offline tests",
        description=(
            "Serve Bedrock, SageMaker, watsonx.ai, DashScope and the Cohere-compatible rerank APIs on "
            "a local port until interrupted. Point a vendor SDK's endpoint or base URL at the printed "
            "address (watsonx.ai needs --tls)."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")
    parser.add_argument(
        "--scorer",
        choices=("lexical", "local"),
        default="lexical",
        help="how documents are scored: term overlap (default) or the local model",
    )
    parser.set_defaults(handler=run_emulate)


def run_emulate(args: argparse.Namespace) -> int:
    from multirerank.testing.server import Emulator

    with Emulator(args.host, args.port, tls=args.tls, scorer=args.scorer) as emulator:
        print(f"multirerank emulator listening on {emulator.url} (Ctrl-C stops it)", flush=True)
        threading.Event().wait()
    return 0
