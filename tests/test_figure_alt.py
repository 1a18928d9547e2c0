"""The text alternative every chart gets (viz/ui/figure_alt.py): the figure's own words, plain."""

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from viz.figures.teaching import pe_heatmap
from viz.positional import sinusoidal
from viz.ui.figure_alt import alt_text, figure_title


def test_the_title_comes_without_plotly_markup():
    fig = go.Figure(layout={"title": {"text": "<b>Layer 2</b>, head 3<br>q &amp; k"}})
    assert figure_title(fig) == "Layer 2, head 3. q & k"
    assert alt_text(fig, "  The head   looks back. ") == "Figure: Layer 2, head 3. q & k. The head looks back."


def test_subplot_titles_then_axis_titles_stand_in_for_a_missing_title():
    grid = make_subplots(rows=1, cols=2, subplot_titles=("head 0", "head 1"))
    assert figure_title(grid) == "head 0; head 1"
    axes = go.Figure(layout={"xaxis": {"title": {"text": "position"}}, "yaxis": {"title": {"text": "weight"}}})
    assert figure_title(axes) == "position against weight"
    assert alt_text(go.Figure()) == "Figure: a chart."


def test_a_figure_built_as_a_dict_is_read_too():
    fig = pe_heatmap(sinusoidal(8, 16), "PE, 8 positions × 16 dimensions")
    assert alt_text(fig) == "Figure: PE, 8 positions × 16 dimensions."


def test_a_plain_dict_figure():
    assert figure_title({"data": [], "layout": {"title": "Curves"}}) == "Curves"
