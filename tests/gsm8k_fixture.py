"""Eight GSM8K-style records in the real schema (``question``, ``answer`` ending ``#### N``).

Written to a JSONL file by the tests that run ``python -m llm evaluate --task gsm8k --data-file F --n 8``
on each engine (tests/llm/experiments/test_benchmarks.py: HF; tests/llm/test_vllm_default_model.py: vLLM),
so both run the same command on the same data.
"""

import json
from pathlib import Path

RECORDS = [
    {"question": f"Tom has {a} apples and buys {b} more. How many apples does he have now?",
     "answer": f"{a} + {b} = <<{a}+{b}={a + b}>>{a + b}\n#### {a + b}"}
    for a, b in [(2, 3), (4, 1), (5, 2), (3, 3), (6, 1), (1, 7), (2, 2), (4, 4)]
]


def write_gsm8k(directory: Path) -> Path:
    """The records as ``directory/gsm8k.jsonl``; its path."""
    path = Path(directory) / "gsm8k.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in RECORDS))
    return path


def evaluate_argv(data_file: Path, engine: str) -> list[str]:
    """The README's laptop command at CI size: 8 problems, two seeds, standard vs temperature (α = 4)."""
    return ["evaluate", "--task", "gsm8k", "--data-file", str(data_file), "--n", "8", "--seeds", "2",
            "--methods", "standard,temperature", "--max-new-tokens", "6", "--engine", engine]


def check_table(out: str) -> None:
    """The printed table has a pass@k column and a paired comparison of the two methods on the same problems."""
    assert "| pass@2 |" in out, out
    assert "paired: default / Temperature vs default / Standard" in out and "McNemar exact p = " in out, out
    rows = [line for line in out.splitlines() if line.startswith("| default") or line.startswith("|  |")]
    assert len(rows) == 2, out
    for row in rows:  # r*, pass@2 are fractions
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert 0.0 <= float(cells[-1]) <= 1.0, row
