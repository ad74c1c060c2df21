"""Table 1: true reward r* and self-reward r_self of RandW / Base / Power-distilled under each sampler.

Algorithm 1 end to end (:mod:`figures._pipeline`), at a chosen ``scale`` (see :mod:`figures._llm`):
teacher data by power-MH (α = 4) on training prompts, LoRA SFT of a student, then evaluation
on held-out prompts of RandW × {Standard, Power}, Base × {Standard, Temperature τ = 1/α, Power}
and Power-distilled × {Standard, Temperature}, each over ``seeds`` seeds, with self-reward
Best-of-N across seeds.  ``--scale tiny``/``small``: the built-in 1-digit arithmetic task
(training prompts seed 0, held-out prompts seed 1); ``--scale paper``: MATH500, trained on MATH
minus MATH500 (the paper's Qwen2.5-Math-7B setting; ``--option task=NAME`` picks another
task at any scale).  A table-only artefact: ``plot`` returns ``None``; the markdown table is
printed on stderr and saved with the CSV.
"""

from __future__ import annotations

from . import _pipeline

FIGURE_ID = "table1"
CAPTION = "True reward r* (accuracy) and self-reward r_self per model and sampler, with self-reward Best-of-N across seeds (Table 1)."

SPEC = _pipeline.TableSpec(
    FIGURE_ID, "math500",
    (("RandW", ("standard", "power-mh")), ("Base", ("standard", "temperature", "power-mh")),
     ("Power-distilled", ("standard", "temperature"))),
    small_benchmark="arithmetic",
)
compute = _pipeline.table_compute(SPEC)
plot, tables, summary, headline = _pipeline.plot, _pipeline.tables, _pipeline.summary, _pipeline.headline
