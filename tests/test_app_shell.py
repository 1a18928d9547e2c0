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
