"""The sidebar every page shares: which device runs the models."""

from __future__ import annotations

import streamlit as st

from viz.device import CHOICES, DeviceChoice, resolve_device

DEVICE_KEY = "device"


def device_sidebar() -> DeviceChoice:
    """Device selector (auto / cpu / cuda), the device in use, and a note when CUDA is missing.

    Called once by app.py before the page runs; pages read the choice with current_device().
    """
    with st.sidebar:
        st.selectbox("Device", CHOICES, key=DEVICE_KEY, help="auto uses a CUDA GPU when there is one.")
        choice = current_device()
        st.caption(f"Running on **{choice.label}**")
        if choice.note:
            st.caption(choice.note)
    return choice


def current_device() -> DeviceChoice:
    return resolve_device(st.session_state.get(DEVICE_KEY, "auto"))
