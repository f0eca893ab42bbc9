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


def loaded_after_importing(modules: Iterable[str], watched: Iterable[str]) -> list[str]:
    """Which of the ``watched`` top-level packages a fresh interpreter holds once it imported ``modules``."""
    code = f"import json, sys, {', '.join(modules)}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = {name.split(".")[0] for name in json.loads(done.stdout.strip().splitlines()[-1])}
    return sorted(loaded & set(watched))
