"""Shared test set-up: no network, GPU tests only where CUDA is present."""

import os
import tempfile

import pytest

# Under pytest-xdist (make test: two workers on this 2-core machine) each worker gets one torch
# thread: two workers with torch's default two threads each spin four threads on two cores, and
# evaluating a bundled checkpoint took 14.8 s instead of 4.6 s that way (measured side by side). Set
# before torch is imported, so its thread pool starts with one; the servers and training processes
# the tests start inherit it (the app sets one thread itself too, viz/ui/threads.py).
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# Any attempt to reach the Hugging Face Hub fails fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests save tiny models under the system's temporary folder (pytest's tmp_path) and load them
# by path: allow that folder, as a teacher would allow theirs (viz/pretrained/names.py).
os.environ["ATTENTION_LENS_MODEL_DIRS"] = tempfile.gettempdir()
# Fine-tuned models (viz.finetune) go to a fresh folder per test session, never the user's cache;
# the servers the browser tests start inherit it.
os.environ["ATTENTION_LENS_FINETUNED_DIR"] = tempfile.mkdtemp(prefix="attention-lens-finetuned-")
# The lesson's fine-tune (its step "Fine-tuning: what changes") runs 4 steps in the tests, not 200:
# the step's code is the same, its figure just shows smaller changes.
os.environ.setdefault("ATTENTION_LENS_LESSON_FINETUNE_STEPS", "4")


@pytest.fixture(scope="session")
def lesson_finetuned():
    """The lesson's fine-tune, saved once per test process (about 20 s) in this session's folder
    with the same code a class start queues (viz.finetune.job.run_finetune); its folder name."""
    from viz.finetune.job import lesson_request, run_finetune, saved_result
    from viz.pretrained.names import finetuned_dir

    request = lesson_request()
    if saved_result(finetuned_dir() / request.folder_name()) is None:
        from viz.finetune.__main__ import _Quiet  # the command line's silent progress

        run_finetune(_Quiet(), request)
    return request.folder_name()


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (run where a GPU is lent: pytest -m gpu)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
