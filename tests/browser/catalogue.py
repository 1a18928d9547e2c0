"""The hostile-input catalogue: one table, applied in the browser to every input of every page.

Each entry is (name, value). A page passes an entry when, after the value is entered: a clear
message or the box's own result shows (the first such element after the box, see TEXT_INPUTS), no
Streamlit exception element, no browser dialog fires, no markup from the input is interpreted, and
the same session still answers a good input.
"""

from typing import NamedTuple

HOSTILE = [
    ("empty", ""),
    ("whitespace", "   \t  "),
    ("100k characters", "a" * 100_000),
    ("emoji", "🙂🚀🧠"),
    ("right-to-left", "שלום עולם مرحبا"),
    ("zero-width and control", "a\u200bb\u200dc\u0007d\u001b[31m"),
    ("script tag", "</script><script>alert(1)</script>"),
    ("img onerror", "<img src=x onerror=alert(1)>"),
    ("template", "{{7*7}}"),
    ("NaN", "NaN"),
    ("inf", "inf"),
    ("1e309", "1e309"),
    ("negative", "-5"),
    ("zero", "0"),
    ("path traversal", "../../etc/passwd"),
]

# A good input after every 5th entry and after the last: 18 reruns a box instead of 30, so every
# box of every page fits in the suite's time. Each hostile entry must itself get an answer (a
# message or a chart), which already shows the session still runs.
GOOD_EVERY = 5

# Where each page takes typed input. `result` is the box's own answer, a CSS selector (a chart's
# Streamlit key): after any value, the first message or chart/table that follows the box on the page
# must be a message or this element (tests/browser/checks.answer_problem), so a chart elsewhere on the
# page does not count. For the good value it must be `result` itself, and `expected` must show: in the
# main area, or with in_title, in `result`'s own plotly title (for the model boxes, whose model names
# are also in a label and a caption that are always on the page). Pages add their inputs here.


class Box(NamedTuple):
    path: str  # url path (and query)
    name: str  # the text box's accessible name
    good: str
    expected: str
    result: str | None  # None: only a message answers it (a form's "check" box)
    in_title: bool = False


def key(name: str) -> str:
    return f".st-key-{name}"


TABLE = "[data-testid='stElementContainer']:has([data-testid='stDataFrame'])"  # a table without
# on_select carries no st-key- class
LESSON_FIGURE = "[class*='st-key-lesson_fig_']"  # lesson_ui keys each step's figure lesson_fig_<step>

TEXT_INPUTS = [
    Box("scratch", "Your input", "browser", "resworb", key("scratch_heatmap")),
    Box("softmax", "Logits (numbers separated by commas)", "3, 1, 0", "Largest weight 0.844", key("softmax_bars")),
    Box("softmax", "Large logits", "10, 12, 90", "exp overflows to inf above", TABLE),
    Box("softmax", "A word for the from-scratch model (lowercase letters, one token each)", "cat",
        "head 0, query 'c'", key("softmax_real")),
    Box("dimensions", "Sentence (n = number of words)", "one two three", "n = 3", key("dims_diagram")),
    Box("positional", "A word for the from-scratch model", "order", "order →", key("pos_permutation")),
    # MiniLM lowercases: "zebra" can only come from the model's tokens, not from the box itself.
    # The words must be whole in its vocabulary ("quokka" becomes quo ##kka and never shows).
    Box("text", "Your text", "Zebra crossing ahead.", "zebra", key("text_chart_heatmap")),
    Box("text", "Second sentence (optional): BERT reads the two as a pair", "Penguin smiles.", "penguin",
        key("text_chart_heatmap")),
    # The trace's model name in the heatmap's title ("all-MiniLM-L6-v2 (bundled): layer 0, head 0").
    Box("text", "Model (text page)", "", "all-MiniLM-L6-v2 (bundled): layer", key("text_chart_heatmap"), in_title=True),
    # The lesson's boxes (a link opens their step). Their good values are read from the figure and
    # the question (the "what to notice" line waits for the answer). Hostile values never contain the followed word,
    # so each gives a sentence, and the expected text can only come back from the good value.
    Box("lesson?step=1", "Sentence", "The zebra ran because it was scared.", "zebra", LESSON_FIGURE),
    Box("lesson?step=1", "Word to follow", "cat", "attention of 'cat'", LESSON_FIGURE),
    Box("lesson?step=2", "Scores (numbers separated by commas)", "3, 1, 0", "0.844", LESSON_FIGURE),
    Box("lesson?step=4", "Sentence A", "The bank of the stream.", "5: stream", LESSON_FIGURE),
    Box("lesson?step=4", "Sentence B", "The bank lent money.", "0.89", LESSON_FIGURE),
    Box("lesson?step=4", "Word in both", "the", "two 'the' vectors", LESSON_FIGURE),
    Box("lesson?step=5", "Sentence (n = number of words)", "one two three", "n = 3, d_model", LESSON_FIGURE),
    Box("lesson?step=5", "Your answer", "512 x 64", "Right: 512 × 64", None),
    Box("lesson?step=6", "A word for the from-scratch model (lowercase letters)", "browser", "resworb",
        LESSON_FIGURE),
    Box("lesson?step=9", "A number for the from-scratch model (0 to 999)", "42", "forty", LESSON_FIGURE),
    Box("lesson?step=7", "Sentence", "Zebra crossing ahead.", "zebra", LESSON_FIGURE),
    Box("lesson?step=10", "Sentence A", "Penguin smiles.", "penguin", LESSON_FIGURE),
    Box("lesson?step=10", "Sentence B", "Penguin smiles.", "penguin", LESSON_FIGURE),
    Box("text?view=context", "Sentence B: the same word in another context", "It rained and it was wet.",
        "'it' starts at cosine", key("text_chart_context")),
    Box("text?view=context", "Word in both sentences", "was", "'was' starts at cosine", key("text_chart_context")),
    # The decoder's own-text line counts the tokens seen before: 2 only for "xy xy" (x and y again).
    Box("decoder", "Your sequence (the model reads it token by token, left to right)", "xy xy",
        "On your sequence, 2 tokens have occurred before", key("dec_heatmap")),
    # The trace's model name in the CLS figure's title ("dinov2-small (offline): CLS → patches, ...").
    Box("image", "Model: a Hugging Face id or a local folder (leave empty for DINOv2-small, offline)", "",
        "dinov2-small (offline): CLS → patches", key("image_cls_overlay"), in_title=True),
]
