"""Which torch device to run on: the sidebar's choice (auto / cpu / cuda) made safe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import torch

CHOICES = ("auto", "cpu", "cuda")
T = TypeVar("T")


@dataclass(frozen=True)
class DeviceChoice:
    device: torch.device
    label: str  # "CPU" or "CUDA: <device name>"
    note: str | None  # set when the choice could not be honoured


def cuda_available() -> bool:
    try:
        return torch.cuda.is_available()
    except Exception:  # a broken driver install raises instead of returning False
        return False


def resolve_device(preference: str = "auto") -> DeviceChoice:
    """auto -> CUDA when available, else CPU. cuda without a GPU falls back to CPU with a note."""
    if preference not in CHOICES:
        raise ValueError(f"device must be one of {', '.join(CHOICES)}, got {preference!r}")
    if preference != "cpu" and cuda_available():
        return DeviceChoice(torch.device("cuda"), f"CUDA: {torch.cuda.get_device_name(0)}", None)
    note = None
    if preference == "cuda":
        note = "CUDA was asked for but is not available on this machine; running on the CPU."
    elif preference == "auto":
        note = "No CUDA device found; running on the CPU."
    return DeviceChoice(torch.device("cpu"), "CPU", note)


def run_on_device(fn: Callable[[str], T], device: str) -> tuple[T, str | None]:
    """Call fn(device); if the GPU fails (out of memory, driver gone), call fn("cpu") instead.

    Returns (result, note); the note says the CPU was used and why, for the page to show.
    Errors that are not the GPU's (a bad input) propagate from the CPU call unchanged.
    """
    if not device.startswith("cuda"):
        return fn(device), None
    try:
        return fn(device), None
    except (RuntimeError, AssertionError) as err:  # OutOfMemoryError is a RuntimeError
        if cuda_available():
            torch.cuda.empty_cache()
        reason = "out of memory" if "out of memory" in str(err).lower() else "CUDA failed"
        return fn("cpu"), f"The GPU could not run this ({reason}); it was computed on the CPU instead."


GPU_WORDS = ("cuda", "out of memory", "cublas", "cudnn", "nccl", "device-side", "gpu")


def gpu_fault(err: BaseException) -> str | None:
    """A short reason if `err` is the GPU failing (out of memory, a driver or CUDA error), else None."""
    if not isinstance(err, RuntimeError | AssertionError):  # torch.cuda.OutOfMemoryError is a RuntimeError
        return None
    text = str(err).lower()
    if "out of memory" in text:
        return "out of memory"
    return "CUDA failed" if any(w in text for w in GPU_WORDS) else None
