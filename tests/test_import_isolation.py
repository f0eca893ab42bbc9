"""Importing a package loads only what it needs: no other framework, vendor SDK or model library.

Each check runs in a fresh interpreter. A finder installed before the import records, for each
forbidden module, which of the project's files pulled it in, so a failure names the culprit.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LANGCHAIN = ("langchain", "langchain_core", "langchain_classic", "langchain_aws", "langchain_community")
LLAMA_INDEX = ("llama_index",)
MODEL_LIBRARIES = ("torch", "sentence_transformers", "transformers")
VENDOR_SDKS = ("boto3", "botocore", "aiobotocore", "aiohttp", "dashscope", "ibm_watsonx_ai", "httpx", "google")
#: Optional libraries loaded only when used: tracing on a call (multirerank.tracing), shared rate
#: limits, evaluation's metrics and chart (multirerank.evaluation).
OPTIONAL = ("opentelemetry", "ir_measures", "pytrec_eval", "matplotlib", "scipy")

#: Top-level modules that importing each package must not load.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "multirerank": LANGCHAIN + LLAMA_INDEX + MODEL_LIBRARIES + VENDOR_SDKS + OPTIONAL,
    "multirerank.testing": LANGCHAIN + LLAMA_INDEX + MODEL_LIBRARIES + VENDOR_SDKS,
    # The vendor facts are plain data, read by the emulator and the README check too.
    "multirerank.vendors": LANGCHAIN + LLAMA_INDEX + MODEL_LIBRARIES + VENDOR_SDKS,
    "langchain_multirerank": LLAMA_INDEX + MODEL_LIBRARIES + VENDOR_SDKS + OPTIONAL,
    "llama_index_multirerank": LANGCHAIN + MODEL_LIBRARIES + VENDOR_SDKS + OPTIONAL,
}

PROBE = """
import importlib, json, sys, traceback

ROOT = sys.argv[1]
FORBIDDEN = set(json.loads(sys.argv[2]))
culprits = {}


class Watch:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in FORBIDDEN and top not in culprits:
            ours = [
                f"{frame.filename}:{frame.lineno}"
                for frame in traceback.extract_stack()
                if frame.filename.startswith(ROOT) and "/.venv/" not in frame.filename
            ]
            culprits[top] = ours[-1] if ours else "?"
        return None


sys.meta_path.insert(0, Watch())
for name in sys.argv[3:]:
    importlib.import_module(name)
loaded = sorted({module.partition(".")[0] for module in sys.modules} & FORBIDDEN)
print(json.dumps({name: culprits.get(name, "?") for name in loaded}))
"""


def forbidden_imports(modules: list[str], forbidden: tuple[str, ...]) -> dict[str, str]:
    """Forbidden top-level modules that importing ``modules`` loaded, each with the line that did it."""
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT), json.dumps(forbidden), *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, f"importing {modules} failed:\n{completed.stderr}"
    result: dict[str, str] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_import_loads_nothing_forbidden(package: str) -> None:
    loaded = forbidden_imports([package], FORBIDDEN[package])
    assert loaded == {}, f"import {package} loaded {sorted(loaded)}; imported from: {loaded}"


def submodules(package: str) -> list[str]:
    """Every module of ``package`` on disk, found now so modules added later are checked too."""
    directory = ROOT.joinpath(*package.split("."))
    return sorted(
        f"{package}.{info.name}" for info in pkgutil.iter_modules([str(directory)]) if info.name != "__main__"
    )


#: Groups of modules whose vendor SDKs must load only when first used, with what they must not load.
MODULE_GROUPS = {
    "multirerank": FORBIDDEN["multirerank"],
    "multirerank.backends": FORBIDDEN["multirerank"],
    "multirerank.testing": FORBIDDEN["multirerank.testing"],
    "langchain_multirerank": FORBIDDEN["langchain_multirerank"],
    "llama_index_multirerank": FORBIDDEN["llama_index_multirerank"],
}


@pytest.mark.parametrize("package", sorted(MODULE_GROUPS))
def test_every_module_imports_vendor_code_lazily(package: str) -> None:
    # One interpreter per package keeps this fast; the culprit line says which module it was.
    modules = submodules(package)
    loaded = forbidden_imports(modules, MODULE_GROUPS[package])
    assert loaded == {}, f"importing {modules} loaded {sorted(loaded)}; imported from: {loaded}"


def test_emulator_routes_load_without_vendor_sdks() -> None:
    loaded = forbidden_imports(
        ["multirerank.testing.server", "multirerank.testing"], FORBIDDEN["multirerank.testing"]
    )
    assert loaded == {}
    probe = "from multirerank.testing.server import default_routes; default_routes()"
    completed = subprocess.run(
        [sys.executable, "-c", f"{probe}; import sys, json; print(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    modules = {name.partition(".")[0] for name in json.loads(completed.stdout.strip().splitlines()[-1])}
    assert modules.isdisjoint(FORBIDDEN["multirerank.testing"]), sorted(
        modules & set(FORBIDDEN["multirerank.testing"])
    )
