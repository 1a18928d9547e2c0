"""Two-class datasets for fine-tuning: the project's own generators, and files a user brings.

    ds = generated("agreement", seed=0)     # CoLA-like: is the sentence acceptable?
    ds = generated("sentiment", seed=0)     # short reviews: positive or negative?
    ds = parse_table(data_bytes, "in_domain_train.tsv", seed=0)   # CoLA TSV, IMDB CSV, text,label

Every generated label is right by construction: a sentence is built with its verb agreeing with
its subject (label 1, "acceptable", as in CoLA) and its twin differs only in that verb's number
(label 0); a review's polarity is the polarity of the clause that decides it (a negated adjective
flips, the clause after "but" wins). Held-out sentences use nouns, verbs and adjectives that
training never sees (the *_HELD_OUT lists), so held-out accuracy measures the rule, not the words.

Agreement is reported in two subsets (Linzen et al. 2016): `simple` ("The dogs run.") and
`attractor`, where a noun of the other number stands between the subject and its verb ("The dog
near the cars runs.", "The dog that the cats follow runs."): that is where models fail.
"""

from __future__ import annotations

import csv
import functools
import io
import random
from dataclasses import dataclass

MAX_BYTES = 100 * 1024 * 1024  # a file larger than this is refused (the page's upload limit is lower)
MAX_ROWS = 100_000
MAX_CHARS = 20_000  # characters in one row's text (the longest IMDB reviews are about 14,000)
MIN_ROWS = 20
HELD_OUT_SHARE = 0.1
MAX_HELD_OUT = 1000


class DataError(ValueError):
    """A file that cannot be used; the message names the line and what is wrong."""


@dataclass(frozen=True)
class Example:
    text: str
    label: int  # 0 or 1
    subset: str = "all"


@dataclass(frozen=True)
class Dataset:
    name: str
    labels: tuple[str, str]  # id2label: labels[0] for 0, labels[1] for 1
    train: tuple[Example, ...]
    held_out: tuple[Example, ...]
    source: str  # one line for the page: where the examples come from

    @property
    def subsets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.subset for e in self.held_out))


# --- agreement --------------------------------------------------------------------------------
# (singular, plural). Training and held-out lists share no word.
def _regular(*words: str) -> list[tuple[str, str]]:
    return [(w, w + ("es" if w.endswith(("s", "x", "ch", "sh")) else "s")) for w in words]


# (singular, plural). Training and held-out lists share no word. Many words, so that the model
# learns the rule, not the words (with a dozen nouns and verbs it memorised them: held-out
# accuracy stopped at 0.90).
NOUNS = _regular("dog", "cat", "teacher", "girl", "boy", "doctor", "bird", "farmer", "student", "singer", "king",
                 "player", "painter", "driver", "writer", "lawyer", "friend", "neighbor", "soldier", "worker",
                 "dancer", "officer", "visitor", "manager", "queen", "guest", "cook", "actor", "artist", "runner")
NOUNS_HELD_OUT = _regular("pilot", "nurse", "baker", "horse", "author", "clerk", "tourist", "sailor")
PLACES = _regular("car", "tree", "table", "house", "window", "box", "door", "wall", "river", "garden", "chair",
                  "lamp", "road", "church")
PLACES_HELD_OUT = _regular("bridge", "tower", "fence", "gate")
PREPOSITIONS = ["near", "behind", "beside", "next to"]
# A main verb and what follows it: (third person singular, plural) forms.
VERBS = [("runs", "run"), ("sleeps", "sleep"), ("laughs", "laugh"), ("waits", "wait"), ("sings", "sing"),
         ("smiles", "smile"), ("works", "work"), ("walks", "walk"), ("cries", "cry"), ("jumps", "jump"),
         ("talks", "talk"), ("listens", "listen"), ("reads", "read"), ("eats", "eat"), ("dances", "dance"),
         ("is here", "are here"), ("was tired", "were tired"), ("has left", "have left"), ("is happy", "are happy"),
         ("is ready", "are ready"), ("was sad", "were sad"), ("has gone", "have gone"), ("is outside", "are outside")]
VERBS_HELD_OUT = [("swims", "swim"), ("wins", "win"), ("rests", "rest"), ("was late", "were late"),
                  ("has arrived", "have arrived"), ("is asleep", "are asleep")]
# The relative clause's own verb, which agrees with the attractor: (singular, plural).
INNER_VERBS = [("sees", "see"), ("likes", "like"), ("follows", "follow"), ("knows", "know"), ("loves", "love"),
               ("meets", "meet"), ("calls", "call")]
INNER_VERBS_HELD_OUT = [("helps", "help"), ("watches", "watch")]


def agreement_pair(rng: random.Random, kind: str, held_out: bool) -> tuple[str, str]:
    """(acceptable, unacceptable): the same sentence with the main verb agreeing or not.

    kind: "simple", "pp" (a prepositional phrase with an attractor) or "relative" (a relative
    clause whose subject is the attractor)."""
    nouns, places, verbs, inner = ((NOUNS_HELD_OUT, PLACES_HELD_OUT, VERBS_HELD_OUT, INNER_VERBS_HELD_OUT)
                                   if held_out else (NOUNS, PLACES, VERBS, INNER_VERBS))
    plural = rng.random() < 0.5
    subject = rng.choice(nouns)[plural]
    verb = rng.choice(verbs)
    good, bad = verb[plural], verb[not plural]
    if kind == "simple":
        middle = ""
    elif kind == "pp":
        middle = f" {rng.choice(PREPOSITIONS)} the {rng.choice(places)[not plural]}"  # the other number
    elif kind == "relative":
        attractor = rng.choice(nouns + places)
        inner_verb = rng.choice(inner)[not plural]  # agrees with the attractor, of the other number
        middle = f" that the {attractor[not plural]} {inner_verb}"
    else:
        raise ValueError(f"unknown agreement kind {kind!r}")
    start = f"The {subject}{middle}"
    return f"{start} {good}.", f"{start} {bad}."


def _agreement(rng: random.Random, n_pairs: int, held_out: bool) -> list[Example]:
    out = []
    for i in range(n_pairs):
        kind = "simple" if i % 2 == 0 else ("pp", "relative")[(i // 2) % 2]  # half simple, half attractor
        good, bad = agreement_pair(rng, kind, held_out)
        subset = "simple" if kind == "simple" else "attractor"
        out += [Example(good, 1, subset), Example(bad, 0, subset)]
    return out


# --- sentiment --------------------------------------------------------------------------------
THINGS = ["film", "movie", "show", "book", "album", "play", "series", "concert"]
THINGS_HELD_OUT = ["novel", "musical", "documentary", "opera"]
POSITIVE = ["good", "great", "wonderful", "lovely", "brilliant", "fun", "charming", "moving"]
POSITIVE_HELD_OUT = ["superb", "delightful", "gripping"]
NEGATIVE = ["bad", "awful", "weak", "terrible", "clumsy", "boring", "dull", "disappointing", "bland",
            "forgettable", "tiresome"]
NEGATIVE_HELD_OUT = ["dreadful", "lifeless", "tedious"]
# Negatives whose negation reads as praise ("not boring"); the others ("not terrible") do not. With
# three of them in training the model learned "not boring", not negation: "not tedious" (held out)
# stayed negative and held-out accuracy stopped at 0.90.
NEGATABLE = {"boring", "dull", "disappointing", "bland", "forgettable", "tiresome", "tedious"}
TOO = ["long", "slow", "loud"]  # "far too long": a flaw whatever came before
TOO_HELD_OUT = ["predictable", "shallow"]
INTENSIFIERS = ["really", "truly", "very", "absolutely"]


def sentiment_example(rng: random.Random, kind: str, held_out: bool) -> tuple[str, int]:
    """(review, label 1 = positive) of one kind: plain, intensified, negated, contrast, too."""
    things, pos, neg, too = ((THINGS_HELD_OUT, POSITIVE_HELD_OUT, NEGATIVE_HELD_OUT, TOO_HELD_OUT)
                             if held_out else (THINGS, POSITIVE, NEGATIVE, TOO))
    thing = rng.choice(things)
    good = rng.random() < 0.5
    adj = rng.choice(pos if good else neg)
    if kind == "plain":
        return f"The {thing} was {adj}.", int(good)
    if kind == "intensified":
        return f"The {thing} was {rng.choice(INTENSIFIERS)} {adj}.", int(good)
    if kind == "negated":
        if not good and adj not in NEGATABLE:
            adj = rng.choice(sorted(NEGATABLE & set(neg)))
        return f"The {thing} was not {adj}.", int(not good)  # the negation flips the adjective
    if kind == "contrast":
        other = rng.choice(neg if good else pos)
        return f"The {thing} seemed {other} at first, but in the end it was {adj}.", int(good)
    if kind == "too":  # "far too long" sinks praise; "a little long, but superb" is still praise
        if good:
            return f"The {thing} was a little {rng.choice(too)} but {adj}.", 1
        return f"The {thing} was {rng.choice(pos)} but far too {rng.choice(too)}.", 0
    raise ValueError(f"unknown sentiment kind {kind!r}")


SENTIMENT_KINDS = ("plain", "intensified", "negated", "contrast", "too")


def _sentiment(rng: random.Random, n: int, held_out: bool) -> list[Example]:
    out = []
    for i in range(n):
        kind = SENTIMENT_KINDS[i % len(SENTIMENT_KINDS)]
        text, label = sentiment_example(rng, kind, held_out)
        out.append(Example(text, label, "plain" if kind in ("plain", "intensified") else "negation or contrast"))
    return out


TASKS = {
    "agreement": ("Agreement (CoLA-like): is the sentence acceptable?", ("unacceptable", "acceptable")),
    "sentiment": ("Sentiment: is the review positive?", ("negative", "positive")),
}
N_TRAIN, N_HELD_OUT = 4000, 400


@functools.lru_cache(maxsize=8)  # a Dataset is immutable (tuples of frozen Examples): safe to share
def generated(task: str, seed: int = 0) -> Dataset:
    """The generated dataset of `task` ("agreement" or "sentiment"): 4,000 training examples and
    400 held-out ones, the same for the same seed."""
    if task not in TASKS:
        raise DataError(f"There is no generated task {task!r}; choose one of {', '.join(TASKS)}.")
    make = _agreement if task == "agreement" else _sentiment
    count = (lambda n: n // 2) if task == "agreement" else (lambda n: n)  # agreement makes pairs
    train = make(random.Random(seed), count(N_TRAIN), held_out=False)
    held = make(random.Random(seed + 1_000_003), count(N_HELD_OUT), held_out=True)
    random.Random(seed).shuffle(train)  # a pair's two sentences apart, subsets mixed
    random.Random(seed + 1).shuffle(held)  # so that any first n are balanced (viz.finetune.train.eval_sample)
    return Dataset(task, TASKS[task][1], tuple(train), tuple(held),
                   f"generated by viz.finetune.data (seed {seed}): {len(train):,} training and "
                   f"{len(held):,} held-out sentences; held-out ones use words training never saw")


def held_out_words(task: str) -> set[str]:
    """The words only held-out sentences use (tests check training never contains them)."""
    if task == "agreement":
        lists = [NOUNS_HELD_OUT, PLACES_HELD_OUT, VERBS_HELD_OUT, INNER_VERBS_HELD_OUT]
        return {w for pairs in lists for pair in pairs for form in pair for w in form.split()} - {"is", "are", "was",
                                                                                                   "were", "has", "have"}
    return set(THINGS_HELD_OUT + POSITIVE_HELD_OUT + NEGATIVE_HELD_OUT + TOO_HELD_OUT)


# --- files ------------------------------------------------------------------------------------
LABEL_WORDS = {
    "0": 0, "1": 1, "negative": 0, "positive": 1, "neg": 0, "pos": 1, "false": 0, "true": 1,
    "unacceptable": 0, "acceptable": 1, "ungrammatical": 0, "grammatical": 1,
}
WORD_NAMES = {"negative": ("negative", "positive"), "neg": ("negative", "positive"),
              "positive": ("negative", "positive"), "pos": ("negative", "positive"),
              "acceptable": ("unacceptable", "acceptable"), "unacceptable": ("unacceptable", "acceptable"),
              "grammatical": ("unacceptable", "acceptable"), "ungrammatical": ("unacceptable", "acceptable")}


def _decode(data: bytes, shown: str) -> str:
    if len(data) > MAX_BYTES:
        raise DataError(f"{shown} is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB. "
                        f"Use the first rows only.")
    if b"\x00" in data[:65536]:
        raise DataError(f"{shown} is not a text file (it contains NUL bytes): give a CSV or TSV file.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise DataError(f"{shown} is not UTF-8 text (line {line}, byte {err.start}); save it as UTF-8.") from None


def _rows(text: str, delimiter: str, shown: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank row; csv handles quoted fields across lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=delimiter != "\t",
                        quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL)
    out = []
    csv.field_size_limit(MAX_CHARS * 2)
    try:
        for fields in reader:
            if len(out) >= MAX_ROWS + 1:
                raise DataError(f"{shown} has more than {MAX_ROWS:,} rows; use the first {MAX_ROWS:,}.")
            if fields and any(f.strip() for f in fields):
                out.append((reader.line_num, fields))
    except csv.Error as err:
        raise DataError(f"{shown}, line {reader.line_num}: {err} (a quote that never closes?).") from None
    return out


def _columns(n: int) -> str:
    return "1 column" if n == 1 else f"{n} columns"


def _clean(text: str) -> str:
    return " ".join(text.replace("<br />", " ").replace("<br/>", " ").split())


def parse_table(data: bytes, filename: str = "the file", seed: int = 0) -> Dataset:
    """A two-class dataset from a CoLA TSV (source, label, the author's mark, sentence; no header),
    an IMDB-style CSV (review,sentiment with positive/negative) or any two-column text,label CSV or
    TSV (header optional; labels 0/1, negative/positive, unacceptable/acceptable, false/true).
    10% (at most 1,000) is held out, chosen with `seed`. DataError names the line that is wrong."""
    shown = _clean(str(filename))[:80] or "the file"
    text = _decode(data, shown)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") >= max(1, first.count(",")) else ","
    rows = _rows(text, delimiter, shown)
    if not rows:
        raise DataError(f"{shown} is empty.")
    line0, header = rows[0]
    names = [h.strip().lower() for h in header]
    if delimiter == "\t" and len(header) == 4:  # CoLA: source, label, mark, sentence
        text_col, label_col, kind, labels = 3, 1, "CoLA", ("unacceptable", "acceptable")
        body = rows
    elif "review" in names and "sentiment" in names:
        text_col, label_col, kind, labels = names.index("review"), names.index("sentiment"), "IMDB", ("negative", "positive")
        body = rows[1:]
    elif len(header) == 2:
        has_header = header[1].strip().lower() not in LABEL_WORDS
        body = rows[1:] if has_header else rows
        text_col, label_col, kind = 0, 1, "text,label"
        word = next((f[1].strip().lower() for _, f in body if len(f) > 1 and f[1].strip().lower() in WORD_NAMES), None)
        labels = WORD_NAMES.get(word, ("class 0", "class 1"))
    else:
        raise DataError(f"{shown}, line {line0}: {_columns(len(header))}. Give a CoLA TSV (4 tab-separated columns), "
                        "an IMDB CSV (review,sentiment) or a two-column text,label file.")
    width = len(header)
    examples = []
    for line, fields in body:
        if len(fields) != width:
            raise DataError(f"{shown}, line {line}: {_columns(len(fields))} where the first row has {width}.")
        label = LABEL_WORDS.get(fields[label_col].strip().lower())
        if label is None:
            shown_label = _clean(fields[label_col])[:40]
            raise DataError(f"{shown}, line {line}: the label {shown_label!r} is not one of 0/1, negative/positive, "
                            "unacceptable/acceptable.")
        sentence = _clean(fields[text_col])
        if not sentence:
            raise DataError(f"{shown}, line {line}: the text is empty.")
        if len(sentence) > MAX_CHARS:
            raise DataError(f"{shown}, line {line}: {len(sentence):,} characters of text; the limit is {MAX_CHARS:,}.")
        examples.append(Example(sentence, label))
    if len(examples) < MIN_ROWS:
        raise DataError(f"{shown} has {len(examples)} examples; fine-tuning needs at least {MIN_ROWS}.")
    if len({e.label for e in examples}) < 2:
        raise DataError(f"{shown} has only label {examples[0].label}: a classifier needs examples of both classes.")
    random.Random(seed).shuffle(examples)
    n_held = min(MAX_HELD_OUT, max(2, round(len(examples) * HELD_OUT_SHARE)))
    return Dataset(f"file:{shown}", labels, tuple(examples[n_held:]), tuple(examples[:n_held]),
                   f"{shown} ({kind}): {len(examples) - n_held:,} training and {n_held:,} held-out rows")
