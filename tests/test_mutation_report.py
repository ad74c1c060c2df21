"""tools/mutation_report.py: the kill-rate table of docs/mutation.md and its "every survivor explained" check."""
import importlib.util
from pathlib import Path

import pytest

_SPEC = importlib.util.spec_from_file_location("mutation_report", Path(__file__).parents[1] / "tools" / "mutation_report.py")
mutation_report = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mutation_report)

RESULTS = """\
    exact.power.x_f__mutmut_1: killed
    exact.power.x_f__mutmut_2: timeout
    exact.power.x_f__mutmut_3: survived
    exact.power.x_f__mutmut_4: survived
    exact.models.xǁTabularARǁlog_joint__mutmut_1: no tests
    exact.models.xǁTabularARǁlog_joint__mutmut_2: not checked
    exact.models.xǁTabularARǁlog_joint__mutmut_3: killed
"""


def write(tmp_path: Path, explanations: str) -> tuple[Path, Path]:
    results, tsv = tmp_path / "results.txt", tmp_path / "survivors.tsv"
    results.write_text(RESULTS, encoding="utf-8")
    tsv.write_text(explanations, encoding="utf-8")
    return results, tsv


def test_rates_leave_out_equivalent_and_not_run_mutants(tmp_path, capsys):
    results, tsv = write(tmp_path, "exact.power.x_f__mutmut_3\tequivalent\tastype(None) is float64\n"
                                   "exact.power.x_f__mutmut_4\tgap\tmessage text only\n"
                                   "exact.models.xǁTabularARǁlog_joint__mutmut_1\tequivalent\trepr only\n")
    assert mutation_report.main(["report", str(results), str(tsv)]) == 0
    rows = {line.split(" | ")[0]: line.split(" | ") for line in capsys.readouterr().out.splitlines()[2:] if "|" in line}
    # power: 2 killed of 4, 1 equivalent -> 2 / 3 (rounded down); counting all 2 / 4
    assert rows["| `exact.power`"][1:] == ["4", "2", "1", "1", "0", "0", "66.6 %", "50.0 % |"]
    # models: 3 mutants, 1 not run -> 1 killed of 2 run, the other equivalent -> 1 / 1
    assert rows["| `exact.models`"][1:] == ["3", "1", "1", "0", "0", "1", "100.0 %", "50.0 % |"]
    assert rows["| **total**"][1:] == ["7", "3", "2", "1", "0", "1", "75.0 %", "50.0 % |"]
    assert mutation_report.percent(8575, 8576) == "99.9 %" and mutation_report.percent(3, 3) == "100.0 %"


def test_an_unexplained_survivor_fails_and_a_stale_line_is_named(tmp_path, capsys):
    results, tsv = write(tmp_path, "exact.power.x_f__mutmut_1\tequivalent\twas a survivor once\n"
                                   "exact.power.x_f__mutmut_3\tequivalent\tastype(None) is float64\n")
    assert mutation_report.main(["report", str(results), str(tsv)]) == 1
    out = capsys.readouterr().out
    assert "UNEXPLAINED survivor: exact.power.x_f__mutmut_4" in out
    assert "UNEXPLAINED survivor: exact.models.xǁTabularARǁlog_joint__mutmut_1" in out  # "no tests" is a survivor
    assert "stale explanation (not a survivor now): exact.power.x_f__mutmut_1" in out
    assert "2 unexplained survivors, 1 stale explanations" in out


@pytest.mark.parametrize("line, problem", [
    ("exact.power.x_f__mutmut_3\tkilled\tby test_x\n", "expected 'name<TAB>equivalent|gap<TAB>reason'"),
    ("exact.power.x_f__mutmut_3\tequivalent\t \n", "expected"),
    ("exact.power.x_f__mutmut_3 equivalent reason\n", "expected"),
    ("exact.power.x_f__mutmut_3\tgap\ta\nexact.power.x_f__mutmut_3\tgap\tb\n", "explained twice"),
])
def test_a_malformed_explanation_names_its_line(tmp_path, line, problem):
    results, tsv = write(tmp_path, "# comment\n" + line)
    with pytest.raises(SystemExit, match=problem) as error:
        mutation_report.main(["report", str(results), str(tsv)])
    assert f"{tsv}:" in str(error.value)
