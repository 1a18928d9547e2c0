"""The image model on CUDA; skipped where there is none (see conftest). Run: pytest -m gpu."""

import numpy as np
import pytest

from viz.images import sample_image
from viz.pretrained.image import load_image_model, trace_image

pytestmark = pytest.mark.gpu


def test_dinov2_trace_on_cuda_matches_cpu():
    img = sample_image("chelsea")
    cpu = trace_image(load_image_model(None, device="cpu"), img)
    gpu = trace_image(load_image_model(None, device="cuda"), img)
    np.testing.assert_allclose(gpu.weights, cpu.weights, atol=1e-4)
    np.testing.assert_allclose(gpu.queries, cpu.queries, atol=1e-3, rtol=1e-3)
