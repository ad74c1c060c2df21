"""MATH500 (Lightman et al. 2023, arXiv 2305.20050; hub ``HuggingFaceH4/MATH-500``): last ``\\boxed{}``, graded by math-verify.

Schema (one record): ``problem``, ``solution``, ``answer``, ``subject``, ``level``,
``unique_id``.  Required: ``problem`` and a gold answer -- ``answer``, or else the last
``\\boxed{}`` of ``solution`` (the MATH training files carry only ``solution``); ``id`` =
``unique_id`` if present, else ``"math500-{index}"``.

Prompt (zero-shot, the Qwen2.5-Math chain-of-thought instruction; Appendix B.1 of arXiv
2605.04542 gives none)::

    {problem}
    Please reason step by step, and put your final answer within \\boxed{}.

Grade: the completion's final answer is the content of its *last* ``\\boxed{...}`` (or
``\\fbox{...}``; nested braces matched, ``\\{``/``\\}`` skipped; the brace-less form
``\\boxed 5`` too); none, or an unclosed last box (a truncated completion), scores 0.  Then
``math_verify.verify(parse(gold), parse(pred))`` -- gold first, as math-verify requires --
with both wrapped as ``$...$`` so that math-verify reads them as LaTeX.

math-verify bounds parsing and verification with ``signal.alarm``, which exists only in the
main thread: grading runs **in the calling (main) thread**, and :meth:`MATH500Task.grade`
raises ``RuntimeError`` if called from another thread rather than grading without a timeout.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .base import BenchmarkTask, Entry
from .records import HubSource, Record, field

__all__ = ["MATH500Task", "last_boxed", "math_equal"]

INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
_BOX_COMMANDS = ("\\boxed", "\\fbox")


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed x`` in ``text``; ``None`` if none or unclosed."""
    start = max(text.rfind(command) for command in _BOX_COMMANDS)
    if start < 0:
        return None
    command = next(c for c in _BOX_COMMANDS if text.startswith(c, start))
    position = start + len(command)
    if position < len(text) and text[position] == " ":  # "\boxed 5": up to whitespace or "$"
        rest = text[position + 1 :]
        token = rest.split("$", 1)[0].split()
        return token[0] if token else None
    if position >= len(text) or text[position] != "{":
        return None
    depth, i = 0, position
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2  # an escaped character (\{, \}, \\) never opens or closes
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[position + 1 : i]
        i += 1
    return None


#: Seconds math-verify may spend parsing one answer or comparing two.  Its default (5 s) is hit by a
#: correct answer on a loaded machine (the first call also imports sympy's LaTeX parser), which grades
#: it wrong without a word; 30 s still stops a hostile expression.
GRADE_TIMEOUT_S = 30


def math_equal(gold: str, prediction: str) -> bool:
    """``math_verify.verify(parse($gold$), parse($prediction$))``; main thread only (``signal.alarm`` timeouts)."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(
            "MATH500 grading uses math-verify, whose timeouts need signal.alarm (main thread only); "
            "grade in the main thread or in a worker process"
        )
    from math_verify import parse, verify

    def parsed(text: str):
        return parse(f"${text}$", parsing_timeout=GRADE_TIMEOUT_S)

    return bool(verify(parsed(gold), parsed(prediction), timeout_seconds=GRADE_TIMEOUT_S))


@dataclass(frozen=True)
class MATH500Task(BenchmarkTask):
    """MATH500 with math-verify grading (see the module docstring)."""

    name = "math500"
    hub = HubSource("HuggingFaceH4/MATH-500", None, "test")

    def parse(self, record: Record, index: int) -> Entry:
        problem = field(record, "problem")
        solution = field(record, "solution", default="")
        answer = field(record, "answer", (str, int, float), default=None)
        if answer is None:
            answer = last_boxed(solution)
            if answer is None:
                raise ValueError(f"{record.where}: missing field 'answer' (and no \\boxed{{}} in 'solution')")
        record_id = field(record, "unique_id", (str, int), default=f"{self.name}-{index}")
        return Entry(str(record_id), problem, str(answer), solution, None)

    def question(self, entry: Entry) -> str:
        return f"{entry.text}\n{INSTRUCTION}"

    def grade(self, entry: Entry, completion: str) -> float:
        prediction = last_boxed(completion)
        return float(prediction is not None and math_equal(entry.answer, prediction))
