"""Table S.6: Power(∞) -- the base model under the greedy MH variant (accept iff π(y') > π(y)) on MATH500.

No distillation; the paper's row is Qwen2.5-Math-7B (``--model``).
"""

from __future__ import annotations

from . import _pipeline

FIGURE_ID = "tableS6"
CAPTION = "Power(inf) on MATH500: r* (accuracy) and r_self of the base model, with self-reward Best-of-N (Table S.6)."

IN_ALL = False  # needs a benchmark dataset (the hub or --data-file) and GPU-days at paper scale

SPEC = _pipeline.TableSpec(FIGURE_ID, "math500", (("Base", ("power-inf",)),), distills=False)
compute = _pipeline.table_compute(SPEC)
plot, tables, summary, headline = _pipeline.plot, _pipeline.tables, _pipeline.summary, _pipeline.headline
