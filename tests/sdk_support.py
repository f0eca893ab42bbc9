"""What the tests of the backends built on a vendor SDK (DashScope, watsonx.ai, AWS) share."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: The query and documents of the DashScope and watsonx.ai tests.
QUERY = "how do cats purr"
DOCS = [
    "dogs bark at night",
    "cats purr when they are content",
    "the stock market fell",
    "why do cats purr and how",
    "birds sing in the morning",
]

#: The watsonx.ai SDK reads these (Watson Studio runtime) or writes them (CPD mode, verify).
SDK_ENV = (
    "USER_ACCESS_TOKEN",
    "RUNTIME_ENV_APSX_URL",
    "RUNTIME_ENV_ACCESS_TOKEN_FILE",
    "PROJECT_ID",
    "SPACE_ID",
    "DEPLOYMENT_PLATFORM",
    "DEPLOYMENT_PRIVATE",
    "WX_CLIENT_VERIFY_REQUESTS",
)
WATSONX_ENV = (
    "WATSONX_URL",
    "WATSONX_APIKEY",
    "WATSONX_API_KEY",
    "WATSONX_TOKEN",
    "WATSONX_USERNAME",
    "WATSONX_PASSWORD",
    "WATSONX_INSTANCE_ID",
    "WATSONX_PROJECT_ID",
    "WATSONX_SPACE_ID",
)


def loaded_after_importing(modules: Iterable[str], watched: Iterable[str]) -> list[str]:
    """Which of the ``watched`` top-level packages a fresh interpreter holds once it imported ``modules``."""
    code = f"import json, sys, {', '.join(modules)}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout.strip().splitlines()[-1])}
    return sorted(loaded & set(watched))
