"""What benchmarks/on_gpu.sh needs on a GPU machine without network, gathered here in .gpu/.

    python -m benchmarks.gpu_kit [--python 3.12] [--leave-out numpy pandas ...]

.gpu/wheels: wheels for the GPU machine's Python of the serving and load-test packages and their
dependencies (the versions installed here), but those left out: numpy, pandas, pyarrow and pillow,
which the lent machines' image has (its package list, read there on 2026-11-17), and pydeck (the
app draws no map). Their own torch and transformers stay in use. Everything sent to such a
machine must fit in 64 MiB with the working tree, and pyarrow alone is 54 MB. On a machine
without pyarrow, Streamlit cannot draw a dataframe, so on_gpu.sh then leaves out the softmax page
(its table). .gpu/minilm: the bundled model's config and tokenizer files, not its weights
(benchmarks/standin_model.py builds random ones there). The total is printed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from viz.pretrained import default_model_dir

KIT = Path(".gpu")
PACKAGES = ("streamlit", "plotly", "websockets", "locust")  # what the app and the load test add
LEAVE_OUT = ("numpy", "pandas", "pyarrow", "pillow", "pydeck")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def name_of(wheel: Path) -> str:
    return wheel.name.split("-")[0].lower().replace("_", "-")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", default="3.12", help="the GPU machine's Python version")
    ap.add_argument("--leave-out", nargs="*", default=list(LEAVE_OUT),
                    help="distributions the GPU machine has, or that do not fit")
    args = ap.parse_args(argv)
    wheels = KIT / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    pins = [f"{p}=={version(p)}" for p in PACKAGES]
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--implementation", "cp",
                    "--python-version", args.python, *platforms, "-d", str(wheels), *pins], check=True)
    leave_out = {h.lower().replace("_", "-") for h in args.leave_out}
    for wheel in wheels.glob("*.whl"):
        if name_of(wheel) in leave_out:
            wheel.unlink()
    minilm = KIT / "minilm"
    shutil.rmtree(minilm, ignore_errors=True)
    minilm.mkdir(parents=True)
    for f in default_model_dir().iterdir():
        if f.is_file() and f.suffix in (".json", ".txt"):
            shutil.copy(f, minilm / f.name)
    size = sum(f.stat().st_size for d in (wheels, minilm) for f in d.iterdir())
    kept = sorted(name_of(w) for w in wheels.glob("*.whl"))
    print(f"{len(kept)} wheels ({', '.join(kept)}) and the model's config and tokenizer: {size / 2**20:.1f} MiB in {KIT}/")


if __name__ == "__main__":
    main()
