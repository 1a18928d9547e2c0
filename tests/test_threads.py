"""viz.ui.threads: the app server runs torch on one intra-op thread unless told otherwise."""

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
