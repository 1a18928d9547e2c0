"""Toy tasks whose solutions make attention visible.

- reverse:   "hello" -> "olleh"       cross-attention is an anti-diagonal band
- sort:      "3141592" -> "1123459"   each output digit looks up the input digits of its value
- num2words: "412" -> "four hundred twelve"
             many-to-one alignment, like a translation: "four" and "hundred" both read "4"

Source text is read one character per token. Targets are characters (reverse, sort) or words.
Held out: a fixed 10% of the inputs of 4 or more characters, chosen by a hash of the string.
Training never samples them and accuracy is measured on them only. Inputs of 1 to 3 characters
are all used for training: there are too few of them (26 one-letter words, 10 one-digit
numbers) to hold some out without asking the model for a symbol it has never seen alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SPECIALS = ("<pad>", "<s>", "</s>")
PAD, BOS, EOS = 0, 1, 2

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _below_thousand(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    words = [_ONES[hundreds], "hundred"] if hundreds else []
    if rest >= 20:
        words.append(_TENS[rest // 10])
        if rest % 10:
            words.append(_ONES[rest % 10])
    elif rest:
        words.append(_ONES[rest])
    return words


def number_to_words(n: int) -> list[str]:
    """0 <= n < 1,000,000 in English words, no 'and' or hyphens: 412 -> four hundred twelve."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"number_to_words handles 0 to 999999, got {n}")
    if n == 0:
        return ["zero"]
    thousands, rest = divmod(n, 1000)
    words = _below_thousand(thousands) + ["thousand"] if thousands else []
    return words + _below_thousand(rest)


MIN_HELD_OUT_LEN = 4


def is_held_out(text: str) -> bool:
    """True for the fixed ~10% of inputs (of 4+ characters) reserved for evaluation."""
    return len(text) >= MIN_HELD_OUT_LEN and zlib.crc32(text.encode()) % 10 == 0


@dataclass(frozen=True)
class Task:
    name: str
    title: str
    description: str
    src_symbols: tuple[str, ...]
    tgt_symbols: tuple[str, ...]
    max_src_len: int
    max_tgt_len: int  # without </s>
    example: str
    solve: Callable[[str], list[str]]  # the ground truth, source text -> target tokens
    sample_text: Callable[[np.random.Generator], str]
    target_joiner: str = ""  # how output tokens read as text

    @property
    def src_vocab(self) -> tuple[str, ...]:
        return SPECIALS + self.src_symbols

    @property
    def tgt_vocab(self) -> tuple[str, ...]:
        return SPECIALS + self.tgt_symbols

    def unknown_symbols(self, text: str) -> list[str]:
        """Characters of `text` the model has no token for, in order of first appearance."""
        allowed = set(self.src_symbols)
        return list(dict.fromkeys(ch for ch in text if ch not in allowed))

    def encode_src(self, text: str) -> list[int]:
        index = {s: i for i, s in enumerate(self.src_vocab)}
        return [index[ch] for ch in text]

    def encode_tgt(self, tokens: list[str]) -> list[int]:
        index = {s: i for i, s in enumerate(self.tgt_vocab)}
        return [index[t] for t in tokens]

    def decode_tgt(self, ids: list[int]) -> list[str]:
        """Ids after <s> up to (not including) </s>, as tokens."""
        out = []
        for i in ids:
            if i == EOS or i == PAD:
                break
            out.append(self.tgt_vocab[i])
        return out

    def sample(self, rng: np.random.Generator, held_out: bool = False) -> str:
        """A random source text from the training split (or the held-out split)."""
        while True:
            text = self.sample_text(rng)
            if is_held_out(text) == held_out:
                return text


def _random_string(symbols: str, max_len: int) -> Callable[[np.random.Generator], str]:
    def sample(rng: np.random.Generator) -> str:
        n = int(rng.integers(1, max_len + 1))
        return "".join(rng.choice(list(symbols), size=n))
    return sample


def _random_number(rng: np.random.Generator) -> str:
    # Uniform over the number of digits, then over the numbers with that many digits,
    # so short numbers are seen as often as long ones.
    digits = int(rng.integers(1, 7))
    low = 0 if digits == 1 else 10 ** (digits - 1)
    return str(int(rng.integers(low, 10**digits)))


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"

TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            name="reverse",
            title="Reverse a word",
            description="Type lowercase letters; the model writes them backwards. "
            "Each output letter reads the mirrored input letter: the cross-attention is an anti-diagonal band.",
            src_symbols=tuple(_LETTERS),
            tgt_symbols=tuple(_LETTERS),
            max_src_len=16,
            max_tgt_len=16,
            example="attention",
            solve=lambda s: list(reversed(s)),
            sample_text=_random_string(_LETTERS, 16),
        ),
        Task(
            name="sort",
            title="Sort digits",
            description="Type digits; the model writes them in ascending order. "
            "Each output digit attends to the input positions holding that digit.",
            src_symbols=tuple(_DIGITS),
            tgt_symbols=tuple(_DIGITS),
            max_src_len=16,
            max_tgt_len=16,
            example="3141592653",
            solve=lambda s: sorted(s),
            sample_text=_random_string(_DIGITS, 16),
        ),
        Task(
            name="num2words",
            title="Numbers to words",
            description="Type a number below one million; the model spells it in English. "
            "Several output words come from one digit, like a translation's alignment.",
            src_symbols=tuple(_DIGITS),
            tgt_symbols=tuple(dict.fromkeys(_ONES + _TENS[2:] + ["hundred", "thousand"])),
            max_src_len=6,
            max_tgt_len=12,
            example="412",
            solve=lambda s: number_to_words(int(s)),
            sample_text=_random_number,
            target_joiner=" ",
        ),
    )
}
