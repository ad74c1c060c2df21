"""GSM8K (Cobbe et al. 2021, arXiv 2110.14168; hub ``openai/gsm8k``, config ``main``): the number after ``####``.

Schema: ``question``, ``answer`` (a worked solution ending ``#### 1,234``).  ``id`` =
``"gsm8k-{index}"`` (0-based position in the data; the dataset has no ids).

Prompt (zero-shot; Appendix B.1 of arXiv 2605.04542 does not use GSM8K)::

    {question}
    Please reason step by step, and give the final answer as a number on the last line.

With ``shots = k`` the worked examples are the records' own solutions, ``#### N``
rewritten as ``The answer is N.``.

Numbers (:func:`parse_number`): an optional ``-`` (or ``−``) and ``$``, digits with optional
thousands commas (``1,234``: groups of exactly three), an optional decimal part; compared
exactly as fractions, so ``3.0`` == ``3`` and ``$1,234.50`` == ``1234.5``.  Gold = the number
after the last ``####`` (anything else there is a malformed record).  Prediction = the *last*
number in the completion (a trailing ``.`` ends a sentence, not a decimal part; ``1, 2`` is two
numbers); none scores 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from .base import BenchmarkTask, Entry
from .records import HubSource, Record, field

__all__ = ["GSM8KTask", "last_number", "parse_number"]

INSTRUCTION = "Please reason step by step, and give the final answer as a number on the last line."
_NUMBER = re.compile(r"(?<![\w.])([-−]?)\$?([-−]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\d,]*\d)")


def _value(match: re.Match) -> Fraction:
    sign = -1 if (match.group(1) or match.group(2)) else 1
    return sign * Fraction(match.group(3).replace(",", "") + (match.group(4) or ""))


def last_number(text: str) -> Fraction | None:
    """The last number of ``text`` (see the module docstring), exactly; ``None`` if there is none."""
    matches = list(_NUMBER.finditer(text))
    return _value(matches[-1]) if matches else None


def parse_number(text: str) -> Fraction | None:
    """``text`` (stripped, a trailing ``.`` allowed) read as exactly one number; ``None`` otherwise."""
    match = _NUMBER.fullmatch(text.strip().rstrip("."))
    return _value(match) if match else None


@dataclass(frozen=True)
class GSM8KTask(BenchmarkTask):
    """GSM8K with exact numeric grading (see the module docstring)."""

    name = "gsm8k"
    hub = HubSource("openai/gsm8k", "main", "test")

    def parse(self, record: Record, index: int) -> Entry:
        question = field(record, "question")
        solution = field(record, "answer")
        if "####" not in solution:
            raise ValueError(f"{record.where}: field 'answer' has no '#### <number>' final answer")
        body, final = solution.rsplit("####", 1)
        gold = parse_number(final)
        if gold is None:
            raise ValueError(f"{record.where}: field 'answer': {final.strip()!r} after '####' is not a number")
        worked = f"{body.rstrip()}\nThe answer is {final.strip()}."
        return Entry(f"{self.name}-{index}", question, final.strip(), worked, gold)

    def question(self, entry: Entry) -> str:
        return f"{entry.text}\n{INSTRUCTION}"

    def grade(self, entry: Entry, completion: str) -> float:
        return float(last_number(completion) == entry.data)
