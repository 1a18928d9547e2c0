"""A GPU that fails mid-page (simulated: torch reports CUDA, but nothing can run on it) falls back
to the CPU on every page with a visible note, through viz.ui.guard; the session stays on the CPU
until the user picks a device again."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP, TIMEOUT, assert_clean, plotly_figures
from viz.device import gpu_fault


@pytest.fixture
def broken_gpu(monkeypatch):
    monkeypatch.setattr("viz.device.cuda_available", lambda: True)
    monkeypatch.setattr("torch.cuda.get_device_name", lambda *_: "Simulated GPU")


def _open(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(page)
    at.run()
    return at


@pytest.mark.parametrize("page, figures", [("app_pages/text.py", 1), ("app_pages/image.py", 1),
                                           ("app_pages/positional.py", 1), ("app_pages/lesson.py", 1)])
def test_every_page_falls_back_to_the_cpu_with_a_note(broken_gpu, page, figures):
    at = _open(page)
    assert_clean(at)  # the old behaviour: the guard's "Something unexpected went wrong" (the image page)
    assert any("The GPU failed" in w.value and "runs on the CPU" in w.value for w in at.warning), page
    assert any("The GPU failed" in c.value for c in at.sidebar.caption)
    assert len(plotly_figures(at)) >= figures, page
    assert "Running on **CPU**" in [c.value for c in at.sidebar.caption]
    at.selectbox(key="device").set_value("cpu").run()  # a new choice clears the fallback
    assert not any("The GPU failed" in w.value for w in at.warning)


def test_gpu_faults_are_told_apart_from_other_errors():
    assert gpu_fault(RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")) == "out of memory"
    assert gpu_fault(AssertionError("Torch not compiled with CUDA enabled")) == "CUDA failed"
    assert gpu_fault(RuntimeError("CUDA error: an illegal memory access was encountered")) == "CUDA failed"
    assert gpu_fault(ValueError("CUDA")) is None  # a bad input that mentions it is still the input's
    assert gpu_fault(RuntimeError("shape mismatch")) is None
