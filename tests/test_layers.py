"""The import rules the README's Design section states, checked on the source (ast, no imports run)."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_figures_use_only_plain_data_and_drawing_libraries():
    """viz.figures: plain-data modules of viz (trace, patches, context), numpy, PIL, plotly and the
    standard library; no torch, no streamlit."""
    allowed_third_party = ("numpy", "PIL", "plotly")
    allowed_viz = ("viz.trace", "viz.patches", "viz.context", "viz.figures")
    for path in sorted((ROOT / "viz" / "figures").glob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            ok = (top in sys.stdlib_module_names or top == "__future__" or top in allowed_third_party
                  or name.startswith(allowed_viz))
            assert ok, f"{path.name} imports {name}, which the README says viz.figures does not use"


def test_the_plain_data_modules_figures_use_need_no_torch():
    for name in ("trace", "patches", "context"):
        tops = {n.split(".")[0] for n in imported_modules(ROOT / "viz" / f"{name}.py")}
        assert not tops & {"torch", "transformers", "streamlit"}, (name, tops)


def test_only_viz_ui_imports_streamlit():
    for path in sorted((ROOT / "viz").rglob("*.py")):
        if "ui" in path.relative_to(ROOT / "viz").parts:
            continue
        assert not any(n.split(".")[0] == "streamlit" for n in imported_modules(path)), path


def test_the_class_store_needs_only_the_standard_library():
    """viz.classroom: sqlite3 and friends; a replica can run it without the models."""
    for path in sorted((ROOT / "viz" / "classroom").glob("*.py")):
        for name in imported_modules(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or top == "__future__" or name.startswith("viz.classroom"), \
                (path.name, name)


def test_benchmarks_live_in_benchmarks_and_the_library_never_imports_them():
    """Every benchmark is a module of benchmarks/ (`python -m benchmarks.<name>`, `make bench`,
    `make bench-image`); viz is the library and must run without them."""
    viz = ROOT / "viz"
    strays = sorted(str(p.relative_to(ROOT)) for p in viz.rglob("bench*.py"))
    assert not strays, f"{strays}: benchmarks belong in benchmarks/, not in the library viz/"
    for path in sorted(viz.rglob("*.py")):
        for name in imported_modules(path):
            assert name.split(".")[0] != "benchmarks", \
                f"{path.relative_to(ROOT)} imports {name}: the library must not depend on benchmarks/"
