"""Table S.3: MATH -- Base {Standard, Power} and Power-distilled {Standard, Temperature} on MATH500.

The paper's rows are Qwen2.5-7B and Phi-3.5-mini-instruct, one model per run here
(``--model``); distillation data: MATH minus MATH500 (:mod:`figures._pipeline`).
"""

from __future__ import annotations

from . import _pipeline

FIGURE_ID = "tableS3"
CAPTION = "MATH500: r* (accuracy) and r_self of Base {Standard, Power} and Power-distilled {Standard, Temperature}, with self-reward Best-of-N (Table S.3)."

IN_ALL = False  # needs a benchmark dataset (the hub or --data-file) and GPU-days at paper scale

SPEC = _pipeline.TableSpec(FIGURE_ID, "math500", _pipeline.SUPPLEMENT_ROWS)
compute = _pipeline.table_compute(SPEC)
plot, tables, summary, headline = _pipeline.plot, _pipeline.tables, _pipeline.summary, _pipeline.headline
