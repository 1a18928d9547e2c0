"""benchmarks.text_trace produces real rows (a tiny run: one short input, one repeat)."""

import pytest

from benchmarks.text_trace import COLUMNS, BenchConfig, _table, text_of, text_rows
from viz.pretrained import load_text_model


def test_text_of_gives_exactly_n_word_pieces():
    tok = load_text_model().tokenizer
    for n in (5, 64, 510):
        assert len(tok(text_of(tok, n))["input_ids"]) == n + 2


@pytest.mark.slow
def test_text_rows_measure_every_column():
    (row,) = text_rows(BenchConfig(sizes=(8,), repeats=1))
    assert set(row) == set(COLUMNS)
    assert row["input"] == "10 tokens" and row["forward_ms"] > 0 and row["trace_ms"] > 0
    assert row["trace_ratio"] == pytest.approx(row["trace_ms"] / row["forward_ms"], rel=0.02)
    assert 0 < row["rerun_ms"] < 5000
    assert row["bertviz_bytes"] > row["grid_bytes"] > row["head_bytes"] > 1000
    assert 100 < float(row["peak_mb"]) < 20_000
    table = _table([row])
    assert table.count("\n") == 2 and "10 tokens" in table
