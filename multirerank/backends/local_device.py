"""Where and in which precision the local backend runs its model, and with how many threads."""

from __future__ import annotations

import os
from typing import Any, Literal, TypeAlias

from multirerank.errors import ConfigurationError

Dtype: TypeAlias = Literal["auto", "float32", "bfloat16", "float16"]


def check_device(device: object) -> None:
    """Refuse a ``device`` torch cannot run the model on, before any model is loaded.

    ``None`` / ``"auto"`` always pass (and import nothing). Any other value must be a string torch
    reads as a device (``"cpu"``, ``"cuda:1"``, ``"mps"``), not ``"meta"`` (no data: scores would
    be meaningless), and CUDA / MPS must be usable in this torch build on this machine. Raises
    :class:`ConfigurationError` naming ``device``.
    """
    if device is None or device == "auto":
        return
    if not isinstance(device, str):
        raise ConfigurationError(f"device must be a string such as 'cpu'; got {device!r}", provider="local")
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigurationError(
            f"device {device!r} is not a torch device; pass 'auto', 'cpu', 'cuda', 'cuda:<n>' or 'mps'",
            provider="local",
        ) from None
    problem = _device_problem(torch, parsed)
    if problem:
        raise ConfigurationError(f"device {device!r}: {problem}; pass 'auto' or 'cpu'", provider="local")


def _device_problem(torch: Any, device: Any) -> str | None:
    if device.type == "meta":
        return "the meta device holds no weights, so it cannot score"
    if device.type == "cuda":
        if torch.version.cuda is None and getattr(torch.version, "hip", None) is None:
            return "CUDA is not available in this torch build (a CPU-only build is installed)"
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            return "torch sees no CUDA device on this machine"
        if device.index is not None and device.index >= count:
            return f"torch sees {count} CUDA device(s), numbered from 0"
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_built():
            return "MPS is not available in this torch build (it needs Apple silicon macOS)"
        if not mps.is_available():
            return "MPS is not available on this machine"
    return None


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
        # "cpu:0" and "cpu" are one device: choose by its type.
        kind = torch.device(device).type
        if kind == "cuda":
            return torch.float16
        if kind == "cpu" and cpu_has_native_bf16():
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


#: Whether :func:`limit_torch_threads` has run in this process: it runs once, so a count a
#: user sets after the first model load is never changed.
_threads_checked = False


def limit_torch_threads() -> None:
    """Lowers torch's intra-op threads to the cores this process may run on, when torch counted
    more (a container limited to fewer cores than the machine has). Runs once per process, at
    the first model load on the CPU; never raises a count, and leaves it alone when
    ``OMP_NUM_THREADS`` is set (the user chose it). One inference runs at a time, so torch and
    the engine's thread share no core."""
    global _threads_checked
    if _threads_checked:
        return
    _threads_checked = True
    if os.environ.get("OMP_NUM_THREADS"):
        return
    import torch

    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)
