"""viz.ui.threads: one torch intra-op thread unless told otherwise; a 1 ms GIL switch interval."""

import pytest
import torch

from viz.ui import threads


@pytest.fixture
def restore(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setattr(threads, "_done", False)
    yield
    torch.set_num_threads(before)


def test_one_thread_by_default(restore, monkeypatch):
    monkeypatch.delenv("ATTENTION_LENS_TORCH_THREADS", raising=False)
    torch.set_num_threads(2)
    assert threads.limit_torch_threads() == 1 and torch.get_num_threads() == 1


def test_zero_leaves_torch_alone_and_junk_means_one(restore, monkeypatch):
    torch.set_num_threads(2)
    monkeypatch.setenv("ATTENTION_LENS_TORCH_THREADS", "0")
    assert threads.limit_torch_threads() == 2
    monkeypatch.setattr(threads, "_done", False)
    monkeypatch.setenv("ATTENTION_LENS_TORCH_THREADS", "many")
    assert threads.limit_torch_threads() == 1


def test_only_once_per_process(restore, monkeypatch):
    monkeypatch.delenv("ATTENTION_LENS_TORCH_THREADS", raising=False)
    threads.limit_torch_threads()
    torch.set_num_threads(2)  # changed afterwards by someone who knows better: left alone
    assert threads.limit_torch_threads() == 2


@pytest.mark.parametrize("value, ms", [(None, 1.0), ("2.5", 2.5), ("junk", 1.0), ("0", 1.0), ("1e9", 1.0)])
def test_the_gil_switch_interval_is_1_ms_unless_set(monkeypatch, value, ms):
    import sys

    before = sys.getswitchinterval()
    if value is None:
        monkeypatch.delenv("ATTENTION_LENS_GIL_SWITCH_MS", raising=False)
    else:
        monkeypatch.setenv("ATTENTION_LENS_GIL_SWITCH_MS", value)
    try:
        assert threads.shorten_gil_switch() == ms
        assert abs(sys.getswitchinterval() - ms / 1000) < 1e-9
    finally:
        sys.setswitchinterval(before)
