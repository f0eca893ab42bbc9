"""``multirerank emulate``: run the wire emulator in the foreground for a pipeline under test."""

from __future__ import annotations

import argparse
import contextlib
import threading
from typing import TYPE_CHECKING

from multirerank.cli_support import CliError, SubParsers, positive_int

if TYPE_CHECKING:
    from multirerank.testing.server import Emulator


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
    parser.add_argument("--port", type=_port, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")
    parser.add_argument(
        "--scorer",
        choices=("lexical", "local"),
        default="lexical",
        help="how documents are scored: term overlap (default) or the local model",
    )
    # A server run from the shell has no way to show its log (only a debugger attached to it
    # can), and a long run must not grow without bound, so by default it keeps nothing.
    parser.add_argument(
        "--record",
        type=_whole_number,
        default=0,
        metavar="N",
        help="keep the last N requests in memory (default: 0)",
    )
    parser.add_argument(
        "--latency",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before answering each request, like a vendor's processing time (default: 0)",
    )
    parser.add_argument(
        "--instances",
        type=positive_int,
        default=1,
        metavar="N",
        help="run N independent emulators, each on its own port (from --port up, or free ones), "
        "e.g. to test routing across deployments (default: 1)",
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="LIMIT",
        help="answer requests beyond LIMIT per emulator (e.g. 10/second, or 10/second;300/minute) "
        "with the vendor's throttling error (default: no limit)",
    )
    parser.set_defaults(handler=run_emulate)


def run_emulate(args: argparse.Namespace) -> int:
    from multirerank.testing.server import Emulator

    count = args.instances
    if args.port and args.port + count - 1 > 65535:
        raise CliError(f"--port {args.port} leaves no room for {count} instances below port 65536")
    with contextlib.ExitStack() as running:
        for number in range(count):
            port = args.port + number if args.port else 0
            emulator = Emulator(
                args.host,
                port,
                tls=args.tls,
                scorer=args.scorer,
                record=args.record,
                latency=args.latency,
                rate_limit=args.rate_limit,
            )
            _start(emulator, args.host, port)
            running.callback(emulator.stop)
            name = "multirerank emulator" if count == 1 else f"multirerank emulator {number + 1} of {count}"
            print(
                f"{name} listening on {emulator.url} (Ctrl-C stops {'it' if count == 1 else 'them'})",
                flush=True,
            )
        threading.Event().wait()
    return 0


def _start(emulator: Emulator, host: str, port: int) -> None:
    try:
        emulator.start()
    except OSError as error:
        # Socket errors carry no file name; one that does (the TLS certificate's) is no fault of
        # --host or --port and keeps its traceback.
        if error.filename is not None:
            raise
        reason = error.strerror or str(error)
        raise CliError(f"cannot listen on {host}:{port} (--host/--port): {reason}") from None


def _port(value: str) -> int:
    port = _whole_number(value)
    if port > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {value!r}")
    return port


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, at least 0, got {value!r}")
    return seconds




def _rate_limit(value: str) -> str:
    from multirerank.testing.throttling import Throttle

    try:
        Throttle(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must look like 10/second or 10/second;300/minute, got {value!r}"
        ) from None
    return value


def _whole_number(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, at least 0, got {value!r}")
    return number
