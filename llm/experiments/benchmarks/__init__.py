"""Benchmark tasks of the paper's evaluation (arXiv 2605.04542, Appendix B.1) behind the task interface.

One module per concept:

* :mod:`.records` -- loading a benchmark's records, from the Hugging Face hub by its usual
  name (the ``datasets`` library, imported only then) or from a local JSON / JSONL / Parquet
  file with the same fields, and field validation that names the file and record;
* :mod:`.base` -- :class:`BenchmarkTask`, the shared task (problems in file order, few-shot
  prompt assembly, prompt → record lookup for ``reward``);
* one module per benchmark, each owning its schema, its prompt and its grader:
  :mod:`.math500` (last ``\\boxed{}``, ``math-verify``), :mod:`.gsm8k` (the number after
  ``####`` vs the completion's last number), :mod:`.mbpp` (code run only in
  :mod:`llm.experiments.sandbox`, the checker's nonce verdict), :mod:`.gpqa` (seeded choice
  shuffle, letter extraction).

Prompts are the *user message*: the pipeline wraps them in the model's chat template
(:func:`llm.experiments.teacher.encode_prompt`, ``chat=True`` unless ``--no-chat``), as the
paper's instruct/math models expect.  Appendix B.1 does not give the prompt wording nor
the number of shots; we use zero-shot prompts with each benchmark's customary instruction
(stated in each module) and offer ``shots=k`` (worked examples = the file's first ``k``
records, which are then no longer problems).
"""

from .base import BenchmarkTask
from .gpqa import GPQATask
from .gsm8k import GSM8KTask
from .math500 import MATH500Task
from .mbpp import MBPPTask

__all__ = ["BENCHMARKS", "BenchmarkTask", "GPQATask", "GSM8KTask", "MATH500Task", "MBPPTask"]

#: Task name → class (``get_task(name, data_file=..., shots=..., split=...)``).
BENCHMARKS = {task.name: task for task in (MATH500Task, GSM8KTask, MBPPTask, GPQATask)}
