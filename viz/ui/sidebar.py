"""The sidebar every page shares: which device runs the models."""

from __future__ import annotations

import streamlit as st
import torch

from viz.device import CHOICES, DeviceChoice, resolve_device

DEVICE_KEY = "device"
FALLBACK_KEY = "device_fallback"  # set by viz.ui.guard when the GPU failed during a page run


def device_sidebar() -> DeviceChoice:
    """Device selector (auto / cpu / cuda), the device in use, and a note when CUDA is missing.

    Called once by app.py before the page runs; pages read the choice with current_device().
    """
    with st.sidebar:
        st.selectbox("Device", CHOICES, key=DEVICE_KEY, help="auto uses a CUDA GPU when there is one.",
                     on_change=lambda: st.session_state.pop(FALLBACK_KEY, None))  # a new choice retries the GPU
        choice = current_device()
        st.caption(f"Running on **{choice.label}**")
        if choice.note:
            st.caption(choice.note)
    return choice


def current_device() -> DeviceChoice:
    """The sidebar's choice; the CPU, with a note, once the GPU has failed in this session."""
    reason = st.session_state.get(FALLBACK_KEY)
    if reason:
        return DeviceChoice(torch.device("cpu"), "CPU", fallback_note(reason))
    return resolve_device(st.session_state.get(DEVICE_KEY, "auto"))


def fallback_note(reason: str) -> str:
    return (f"The GPU failed ({reason}), so this session now runs on the CPU. Pick a device in the "
            "sidebar again to retry the GPU.")
