"""Where and in which precision the local backend runs its model, and with how many threads."""

from __future__ import annotations

import os
from typing import Any, Literal, TypeAlias

Dtype: TypeAlias = Literal["auto", "float32", "bfloat16", "float16"]


def resolve_device(device: str | None) -> str:
    """``"auto"`` / ``None``: ``"cuda"`` when torch sees a CUDA device, else ``"mps"`` (Apple
    silicon), else ``"cpu"``; any other value is passed to torch as given."""
    if device not in (None, "auto"):
        return str(device)
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: Dtype, device: str) -> Any:
    """The torch dtype for ``dtype`` on ``device``; ``"auto"``: float16 on CUDA, bfloat16 on a
    CPU with native bfloat16 arithmetic (:func:`cpu_has_native_bf16`), float32 otherwise."""
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.float16
        if device == "cpu" and cpu_has_native_bf16():
            return torch.bfloat16
        return torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware: AVX512-BF16 or AMX on x86 (as torch's
    CPU checks report), the ``bf16`` feature on Arm (``/proc/cpuinfo``). Without it, bfloat16
    is emulated and slower than float32."""
    import torch

    checks = [
        getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    ]
    if any(check is not None and check() for check in checks):
        return True
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return any(
                line.lower().startswith("features") and "bf16" in line.split(":", 1)[1].split()
                for line in info
            )
    except OSError:
        return False


def limit_torch_threads() -> None:
    """Lowers torch's intra-op threads to the cores this process may run on, when torch counted
    more (a container limited to fewer cores than the machine has). Never raises a count a user
    set lower; one inference runs at a time, so torch and the engine's thread share no core."""
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)
