from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP, TIMEOUT, assert_clean
from viz.device import resolve_device


def test_home_page_and_sidebar_device():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert_clean(at)
    assert "Attention Lens" in at.title[0].value
    assert at.sidebar.selectbox(key="device").value == "auto"
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Running on" in captions


def test_cuda_choice_without_cuda_falls_back_with_a_note(monkeypatch):
    monkeypatch.setattr("viz.device.cuda_available", lambda: False)
    choice = resolve_device("cuda")
    assert str(choice.device) == "cpu" and "not available" in choice.note
    assert resolve_device("cpu").note is None


def test_gpu_failure_falls_back_to_cpu_with_a_note():
    import torch

    from viz.device import run_on_device

    def fn(device):
        if device == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return f"ran on {device}"

    result, note = run_on_device(fn, "cuda")
    assert result == "ran on cpu" and "out of memory" in note
    assert run_on_device(fn, "cpu") == ("ran on cpu", None)


def test_page_survives_a_gpu_that_vanishes(monkeypatch):
    """Simulate torch reporting CUDA while no usable GPU exists: the page answers on the CPU."""
    monkeypatch.setattr("viz.device.cuda_available", lambda: True)
    monkeypatch.setattr("torch.cuda.get_device_name", lambda *_: "Simulated GPU")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("app_pages/scratch.py")
    at.run()
    assert_clean(at)
    assert any("computed on the CPU" in w.value for w in at.warning)
    assert any("noitnetta" in m.value for m in at.markdown)
