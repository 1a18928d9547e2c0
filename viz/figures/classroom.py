"""The teacher's live view of a class's answers: one bar per distinct answer, anonymous counts.

plotly only. Answers are students' own text: every label goes through `label()` (HTML-escaped,
shown and never interpreted) and is cut to a bar's width. The right answer is coloured only once
the teacher reveals it: the teacher's screen is usually the projector.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from viz.figures import spec
from viz.figures.heatmap import label

RIGHT, WRONG, OPEN = "#2ca02c", "#c7c7c7", "#1f77b4"
MAX_BARS = 12  # the rest is one "other answers" bar
LABEL_CHARS = 28


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def answer_counts_figure(rows: Sequence[tuple[str, int, bool]], students: int, revealed: bool,
                         title: str = "The class's answers", font_size: int = 13) -> go.Figure:
    """rows: (answer as read, how many students, right?) most frequent first (viz.lesson.tally).
    A projector wants font_size 18 or so."""
    rows = list(rows)
    if len(rows) > MAX_BARS:
        rest = rows[MAX_BARS - 1:]
        rows = rows[: MAX_BARS - 1] + [(f"{len(rest)} other answers", sum(r[1] for r in rest), False)]
    answered = sum(r[1] for r in rows)
    names = [label(_short(r[0])) for r in rows][::-1]  # most frequent on top
    counts = [r[1] for r in rows][::-1]
    colours = [(RIGHT if r[2] else WRONG) if revealed else OPEN for r in rows][::-1]
    top = max(counts, default=1)
    bar = int(2.6 * font_size)
    return spec.figure([dict(
        type="bar", x=counts, y=list(range(len(rows))), orientation="h", marker=dict(color=colours),
        text=[str(c) for c in counts], textposition="outside", customdata=names,
        hovertemplate="%{customdata}: %{x} students<extra></extra>",
    )], dict(
        # Sizes set on the axes and title themselves: Streamlit's plotly theme overrides layout.font there.
        yaxis=dict(tickmode="array", tickvals=list(range(len(rows))), ticktext=names, automargin=True,
                   tickfont=dict(size=font_size)),
        xaxis=dict(title=dict(text="students", font=dict(size=font_size - 1)), rangemode="tozero",
                   dtick=max(1, (top + 4) // 5), range=[0, top * 1.2 + 0.5], tickfont=dict(size=font_size - 2)),
        title=dict(text=label(f"{title}: {answered} of {students} answered"), font=dict(size=font_size + 2)),
        font=dict(size=font_size), height=max(220, 80 + bar * len(rows)), margin=dict(l=10, r=10, t=50, b=10),
        plot_bgcolor="white", showlegend=False,
    ))
