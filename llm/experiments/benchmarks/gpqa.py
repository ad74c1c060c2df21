"""GPQA-Diamond (Rein et al. 2023, arXiv 2311.12022; hub ``Idavidrein/gpqa``, config ``gpqa_diamond``, gated).

Schema (the dataset's CSV columns): ``Question``, ``Correct Answer``, ``Incorrect Answer 1``,
``Incorrect Answer 2``, ``Incorrect Answer 3``, ``Record ID`` (others, e.g. ``Explanation``,
are optional).  ``id`` = ``"gpqa-{Record ID}"``; choices are stripped of surrounding whitespace.

Choice order: the four answers ``[correct, incorrect 1, incorrect 2, incorrect 3]`` are
shuffled by ``random.Random(SHA-256(shuffle_seed, Record ID)).sample``, so the position of the
correct answer is uniform over A-D, fixed per record and ``shuffle_seed``, and independent
of the file order.

Prompt (zero-shot; Appendix B.1 of arXiv 2605.04542 gives none)::

    {Question}

    (A) ...
    (B) ...
    (C) ...
    (D) ...

    Think step by step, then finish with "The answer is (X)" where X is A, B, C or D.

Letter extraction (:func:`extract_letter`), first rule that matches, last occurrence:

1. an explicit statement: ``answer is (B)``, ``answer is B``, ``Answer: B``, ``answer: (B)``
   (``answer`` in any case; the letter an uppercase A-D, not followed by a letter or digit);
2. else the last standalone uppercase A-D (not adjacent to a letter or digit; ``(C)`` counts):
   note that the article "A" counts too, a known ambiguity of this fallback.

No letter scores 0.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from .base import BenchmarkTask, Entry
from .records import HubSource, Record, field

__all__ = ["GPQATask", "choice_order", "extract_letter"]

LETTERS = "ABCD"
INSTRUCTION = 'Think step by step, then finish with "The answer is (X)" where X is A, B, C or D.'
_STATED = re.compile(r"(?i:answer)(?:\s+is|\s*:)\s*\(?\s*([A-D])(?![A-Za-z0-9])")
_STANDALONE = re.compile(r"(?<![A-Za-z0-9])([A-D])(?![A-Za-z0-9])")


def choice_order(record_id: str, shuffle_seed: int) -> list[int]:
    """The permutation: position ``p`` (A=0 … D=3) shows answer ``order[p]`` (0 = the correct one)."""
    digest = hashlib.sha256(f"{int(shuffle_seed)}\x00{record_id}".encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big")).sample(range(4), 4)


def extract_letter(completion: str) -> str | None:
    """The chosen letter of ``completion`` by the rules of the module docstring; ``None`` if none."""
    for pattern in (_STATED, _STANDALONE):
        matches = [m.group(1) for m in pattern.finditer(completion)]
        if matches:
            return matches[-1]
    return None


@dataclass(frozen=True)
class GPQATask(BenchmarkTask):
    """GPQA-Diamond with a seeded choice shuffle (see the module docstring)."""

    shuffle_seed: int = 0

    name = "gpqa"
    hub = HubSource("Idavidrein/gpqa", "gpqa_diamond", "train")

    def parse(self, record: Record, index: int) -> Entry:
        question = field(record, "Question")
        answers = [field(record, "Correct Answer")] + [field(record, f"Incorrect Answer {i}") for i in (1, 2, 3)]
        answers = [a.strip() for a in answers]
        record_id = str(field(record, "Record ID", (str, int)))
        order = choice_order(record_id, self.shuffle_seed)
        choices = tuple(answers[k] for k in order)
        letter = LETTERS[order.index(0)]
        explanation = field(record, "Explanation", default="").strip()
        solution = (explanation + "\n" if explanation else "") + f"The answer is ({letter})."
        return Entry(f"{self.name}-{record_id}", question.strip(), letter, solution, choices)

    def question(self, entry: Entry) -> str:
        options = "\n".join(f"({letter}) {choice}" for letter, choice in zip(LETTERS, entry.data))
        return f"{entry.text}\n\n{options}\n\n{INSTRUCTION}"

    def grade(self, entry: Entry, completion: str) -> float:
        return float(extract_letter(completion) == entry.answer)
