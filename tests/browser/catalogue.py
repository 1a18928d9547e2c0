"""The hostile-input catalogue: one table, applied in the browser to every input of every page.

Each entry is (name, value). A page passes an entry when, after the value is entered: a clear
message or a correct result shows, no Streamlit exception element, no browser dialog fires, no
markup from the input is interpreted, and the same session still answers a good input.
"""

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

# Where each page takes typed input: (url path, accessible name of the text box,
# a good value, text that must appear for the good value). Pages add their inputs here.
TEXT_INPUTS = [
    ("scratch", "Your input", "browser", "resworb"),
    ("softmax", "Logits (numbers separated by commas)", "3, 1, 0", "Largest weight 0.844"),
    ("softmax", "Large logits", "10, 12, 90", "exp overflows to inf above"),
    ("softmax", "A word for the from-scratch model (lowercase letters, one token each)", "cat",
     "head 0, query 'c'"),
    ("dimensions", "Sentence (n = number of words)", "one two three", "n = 3"),
    ("positional", "A word for the from-scratch model", "order", "order →"),
    # MiniLM lowercases: "zebra" can only come from the model's tokens, not from the box itself.
    # The words must be whole in its vocabulary ("quokka" becomes quo ##kka and never shows).
    ("text", "Your text", "Zebra crossing ahead.", "zebra"),
    ("text", "Second sentence (optional): BERT reads the two as a pair", "Penguin smiles.", "penguin"),
    ("text", "Model (text page)", "", "all-MiniLM-L6-v2"),
    # The lesson's boxes (a link opens their step). Hostile values never contain the followed word,
    # so each gives a sentence, and the expected text can only come back from the good value.
    ("lesson?step=1", "Sentence", "The zebra ran because it was scared.", "zebra"),
    ("lesson?step=1", "Word to follow", "cat", "'cat' attends most to"),
    ("lesson?step=2", "Scores (numbers separated by commas)", "3, 1, 0", "takes 0.84 of the weight"),
    ("lesson?step=4", "Sentence A", "The bank of the stream.", "'bank' starts at cosine"),
    ("lesson?step=4", "Sentence B", "The bank lent money.", "'bank' starts at cosine"),
    ("lesson?step=4", "Word in both", "the", "'the' starts at cosine"),
    ("lesson?step=5", "Sentence (n = number of words)", "one two three", "With n = 3 words"),
    ("lesson?step=5", "Your answer", "512 x 64", "Right: 512 × 64"),
    ("lesson?step=6", "A word for the from-scratch model (lowercase letters)", "browser", "→ 'resworb'"),
    ("lesson?step=9", "A number for the from-scratch model (0 to 999)", "42", "→ 'forty two'"),
    ("lesson?step=7", "Sentence", "Zebra crossing ahead.", "zebra"),
    ("lesson?step=10", "Sentence A", "Penguin smiles.", "penguin"),
    ("lesson?step=10", "Sentence B", "Penguin smiles.", "penguin"),
    ("text?view=context", "Sentence B: the same word in another context", "It rained and it was wet.",
     "'it' starts at cosine"),
    ("text?view=context", "Word in both sentences", "was", "'was' starts at cosine"),
    ("image", "Model: a Hugging Face id or a local folder (leave empty for DINOv2-small, offline)", "",
     "DINOv2"),
]
