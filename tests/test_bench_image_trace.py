"""benchmarks.image_trace's rows: what the lead's benchmark table will show."""

import pytest

from benchmarks.image_trace import image_rows

pytestmark = pytest.mark.slow


def test_image_rows_time_every_view_and_keep_each_under_1mb():
    rows = image_rows(repeats=1)
    whats = [r["what"] for r in rows]
    assert whats[:3] == ["plain forward (224 px)", "trace_image", "trace + all views"]
    views = [r for r in rows if r["what"].startswith("view: ")]
    assert len(views) == 7
    assert all(r["ms"] > 0 for r in rows)
    assert all(0 < r["bytes"] < 1_000_000 for r in views)
    assert rows[2]["bytes"] == sum(r["bytes"] for r in views)
    assert "x plain forward" in rows[1]["note"]
