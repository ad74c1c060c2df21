"""Every command line refuses bad input with ONE line on stderr and exit status 2, never a traceback.

Commands: ``python -m llm {sample,teacher,distill,evaluate}`` (``llm.__main__.main``), ``python -m
bench {exact,llm}`` (``bench.__main__.main``) and ``paper_repro.py`` (its ``main``), all run in-process
with ``SystemExit`` caught; two subprocesses check the real entry point.  The table gives every option
its kinds of bad value (negative, zero, NaN, inf, huge, wrong type, a missing file, a directory
instead of a file, a binary file, an empty file); each case must end in ``SystemExit(2)`` with exactly
one stderr line ``PROG: error: ...``.  A case that a command wrongly accepts would go on to load a
real model: ``llm.HFModel`` and ``llm.VLLMModel`` are replaced by a stub that fails the test instead.
Errors found after parsing (a malformed data file, an impossible option combination, a user error
raised by the library) take the same route, and a bug (any other exception) still propagates.
"""

from __future__ import annotations

import importlib.util
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

import llm
from exact._validate import MAX_ALPHA

ROOT = Path(__file__).resolve().parents[1]
TOY = "toy:3,3,0"

# -- the bad values of each kind of option ------------------------------------------------------------

NOT_NUMBERS = ["abc", "", "1,5", "0x10"]
BAD_COUNTS = ["0", "-1", "2.5", "1e3", "nan", "inf", "-inf", "1e400", "1" + "0" * 30, "1" + "0" * 5000, *NOT_NUMBERS]
BAD_NON_NEGATIVE = ["-1", "2.5", "nan", "inf", "1e400", "1" + "0" * 30, *NOT_NUMBERS]
BAD_REALS = ["0", "-1", "-0.0", "nan", "inf", "-inf", "1e400", *NOT_NUMBERS]
BAD_ALPHAS = [*BAD_REALS, repr(MAX_ALPHA * 10), "1e308"]
BAD_SEEDS = ["-1", "2.5", "nan", "1e400", str(2**64), *NOT_NUMBERS]
BAD_THREADS = [*BAD_COUNTS, "100000"]
BAD_MODELS = [
    "{missing}", "/nonexistent", "./not/here", "{dir}", "{binary}", "{empty}", "{fake_gguf}",
    "toy:2.7,3,0", "toy:3,3", "toy:0,3,0", "toy:3,3,-1", "toy:a,b,c", "randw:x", "randw:-1", "no such name!", "",
]
BAD_ENGINE_ARGS = ["x", "=1", "1a=2", "a b=1"]

SAMPLER_OPTIONS = {
    "--alpha": BAD_ALPHAS,
    "--max-new-tokens": BAD_COUNTS,
    "--block-size": BAD_COUNTS,
    "--n-mcmc": BAD_COUNTS,
    "--candidates": BAD_COUNTS,
    "--top-k": BAD_COUNTS,
    "--rollouts": BAD_COUNTS,
    "--rollout-horizon": BAD_NON_NEGATIVE,
    "--particles": BAD_COUNTS,
}
ENGINE_OPTIONS = {
    "--engine": ["tgi", "", "HF"],
    "--tensor-parallel-size": BAD_COUNTS,
    "--data-parallel-size": BAD_COUNTS,
    "--engine-arg": BAD_ENGINE_ARGS,
}

#: Each command: a valid argv (cheap if it ever ran: a toy model) and its options' bad values.
COMMANDS = {
    "sample": (
        ["sample", "--prompt", "", "--model", TOY, "--method", "standard", "--max-new-tokens", "2"],
        {
            "--n": BAD_COUNTS, "--seed": BAD_SEEDS, "--threads": BAD_THREADS, "--method": ["xyz", "", "Standard"],
            "--model": BAD_MODELS, **SAMPLER_OPTIONS, **ENGINE_OPTIONS,
        },
    ),
    "teacher": (
        ["teacher", "--model", TOY, "--task", "toy", "--n", "1", "--quiet", "--out", "{tmp}/out.jsonl"],
        {
            "--n": BAD_COUNTS, "--seed": BAD_SEEDS, "--threads": BAD_THREADS, "--digits": [*BAD_COUNTS, "5000"],
            "--out": ["{dir}", "{dir}/", "{binary}", "{not_teacher}", "{file}/teacher.jsonl"], "--model": BAD_MODELS,
            "--alpha": BAD_ALPHAS, "--method": ["xyz"], "--task": ["no-such-task"], **ENGINE_OPTIONS,
        },
    ),
    "evaluate": (
        ["evaluate", "--model", TOY, "--task", "toy", "--methods", "standard", "--n", "1", "--seeds", "1"],
        {
            "--n": BAD_COUNTS, "--seeds": BAD_COUNTS, "--problem-seed": BAD_SEEDS, "--seed": BAD_SEEDS,
            "--methods": ["", ",", "xyz", "standard,xyz", "Standard"], "--out": ["{dir}", "{file}/rows.csv"],
            "--model": BAD_MODELS, **SAMPLER_OPTIONS, **ENGINE_OPTIONS,
        },
    ),
    "distill": (
        ["distill", "--data", "{teacher_data}", "--out", "{tmp}/student", "--model", "default"],
        {
            "--data": ["{missing}", "{dir}", "{binary}", "{empty}", "{no_newline}", "{not_teacher}"],
            "--out": ["{file}", "{file}/student"], "--model": [*BAD_MODELS, TOY],
            "--epochs": BAD_REALS, "--learning-rate": BAD_REALS, "--batch-size": BAD_COUNTS, "--grad-accum": BAD_COUNTS,
            "--max-length": BAD_COUNTS, "--max-steps": ["-2", "2.5", "nan", "1e400", *NOT_NUMBERS],
            "--seed": BAD_SEEDS, "--threads": BAD_THREADS,
        },
    ),
}

BENCH = {
    "exact": (["exact", "--max-leaves", "1", "--markov-horizon", "2", "--markov-vocab", "2", "--repeats", "1"], {
        "--vocab-size": [*BAD_COUNTS, "1"], "--max-leaves": BAD_REALS, "--alpha": BAD_ALPHAS, "--repeats": BAD_COUNTS,
        "--naive-max-leaves": BAD_REALS, "--naive-time-cap": BAD_REALS, "--markov-horizon": BAD_COUNTS,
        "--markov-vocab": BAD_COUNTS,
    }),
    "llm": (["llm", "--quick"], {
        "--threads": BAD_THREADS, "--seed": BAD_SEEDS, "--mh-tokens": BAD_COUNTS, "--block-size": BAD_COUNTS,
        "--n-mcmc": BAD_COUNTS, "--mh-chains": BAD_NON_NEGATIVE, "--top-k": BAD_COUNTS, "--rollouts": [*BAD_COUNTS, "1"],
        "--rollout-horizon": BAD_NON_NEGATIVE, "--particles": BAD_COUNTS, "--smc-tokens": BAD_COUNTS,
        "--smc-ess-threshold": ["-0.1", "1.5", "nan", "inf", *NOT_NUMBERS], "--only": ["xyz"], **ENGINE_OPTIONS,
    }),
}

PAPER_REPRO = (["--figure", "S10", "--out", "{tmp}/figures"], {
    "--seed": BAD_SEEDS, "--format": ["gif", "", ",", "png,gif"], "--out": ["{file}", "{file}/figures"],
    "--option": ["x", "=1", "1a=2", "a b=1"],
    "--scale": ["huge"], "--figure": ["S99", ""],
})


def _cases(commands):
    """One case per (command, option): its bad values are tried in a loop (one pytest item each would cost more)."""
    for name, (argv, options) in commands.items():
        for option, values in options.items():
            yield pytest.param(name, argv, option, values, id=f"{name} {option}")


# -- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Placeholders of the table: a missing path, a directory, binary/empty/no-newline files, a good teacher file.

    Shared by the module's tests, so none may write to them (one test checks a refused file is left untouched).
    """
    tmp_path = tmp_path_factory.mktemp("cli")
    (tmp_path / "dir").mkdir()
    (tmp_path / "binary").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "file").write_text("a plain file\n")
    (tmp_path / "fake.gguf").write_bytes(b"\x00\x01not gguf")
    (tmp_path / "no_newline.jsonl").write_text(json.dumps(_record()))
    (tmp_path / "not_teacher.txt").write_text("a text file that is no teacher output")
    (tmp_path / "teacher.jsonl").write_text(json.dumps(_record()) + "\n")
    return {
        "tmp": str(tmp_path), "missing": str(tmp_path / "missing.jsonl"), "dir": str(tmp_path / "dir"),
        "binary": str(tmp_path / "binary"), "empty": str(tmp_path / "empty"), "file": str(tmp_path / "file"),
        "fake_gguf": str(tmp_path / "fake.gguf"), "no_newline": str(tmp_path / "no_newline.jsonl"),
        "not_teacher": str(tmp_path / "not_teacher.txt"), "teacher_data": str(tmp_path / "teacher.jsonl"),
    }


@pytest.fixture()
def no_model_loads(monkeypatch):
    """Loading a real model fails the test: every case here must be refused before that."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a model was loaded: {args} {kwargs}")

    monkeypatch.setattr(llm, "HFModel", refuse)
    monkeypatch.setattr(llm, "VLLMModel", refuse)


def _record(**changes) -> dict:
    return {"id": "p0", "prompt": "", "prompt_tokens": [1, 2], "tokens": [3, 4], **changes}


def _fill(argv, files):
    return [arg.format(**files) for arg in argv]


def _with(argv, option, value):
    """``argv`` with ``option`` set to ``value`` (replacing a value already there)."""
    argv = list(argv)
    if option in argv:
        argv[argv.index(option) + 1] = value
        return argv
    return [*argv, option, value]


def usage_error(capsys, run, argv) -> tuple[str | None, str]:
    """Run ``run(argv)``: ``(None, the stderr line)`` if it exits with status 2 and one stderr line
    ``... error: ...`` (no traceback), else ``(what went wrong, stderr)``."""
    try:
        run(argv)
    except SystemExit as stop:
        err = capsys.readouterr().err
        lines = err.splitlines()
        if stop.code != 2:
            return f"exit status {stop.code!r}", err
        if len(lines) != 1 or ": error: " not in lines[0] or "Traceback" in err:
            return "not one error line", err
        return None, lines[0]
    return "accepted (no SystemExit)", capsys.readouterr().err


def expect_usage_error(capsys, run, argv) -> str:
    """``run(argv)`` exits with status 2 and one stderr line ``... error: ...``, no traceback; that line."""
    problem, line = usage_error(capsys, run, argv)
    assert problem is None, (argv, problem, line)
    return line


def expect_every_value_refused(capsys, run, argv, option, values, files):
    """Each of ``values`` for ``option`` in ``argv`` is a usage error (all values tried; the failures listed)."""
    failures = []
    for value in values:
        problem, err = usage_error(capsys, run, _with(_fill(argv, files), option, value.format(**files)))
        if problem is not None:
            failures.append((value[:40], problem, err[-300:]))
    assert failures == []


def llm_main(argv):
    from llm.__main__ import main

    return main(argv)


def bench_main(argv):
    from bench.__main__ import main

    code = main(argv)
    if code:
        raise SystemExit(code)
    return code


@pytest.fixture(scope="module")
def paper_repro_main():
    return runpy.run_path(str(ROOT / "paper_repro.py"), run_name="paper_repro_cli")["main"]


# -- the table --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, argv, option, values", list(_cases(COMMANDS)))
def test_llm_commands_refuse_every_bad_value(name, argv, option, values, files, no_model_loads, capsys):
    expect_every_value_refused(capsys, llm_main, argv, option, values, files)


@pytest.mark.parametrize("name, argv, option, values", list(_cases(BENCH)))
def test_bench_commands_refuse_every_bad_value(name, argv, option, values, files, no_model_loads, capsys):
    expect_every_value_refused(capsys, bench_main, argv, option, values, files)


@pytest.mark.parametrize("name, argv, option, values", list(_cases({"paper_repro": PAPER_REPRO})))
def test_paper_repro_refuses_every_bad_value(name, argv, option, values, files, paper_repro_main, capsys):
    def run(argv):
        code = paper_repro_main(argv)
        if code:
            raise SystemExit(code)

    expect_every_value_refused(capsys, run, argv, option, values, files)


@pytest.mark.parametrize("bad, message", [("-1", "n must be >= 1, got -1"), ("1e400", "cannot convert float infinity to integer")])
def test_paper_repro_reports_a_figure_refusing_its_option_in_one_line(bad, message, tmp_path, paper_repro_main, monkeypatch, capsys):
    """A figure's ``ValueError``/``OverflowError`` from an ``--option`` value: one line naming it, exit status 2.

    (A stand-in figure: the real ones import seaborn, seconds of this file's budget.)"""
    import types

    from figures import _registry as registry

    def compute(seed=0, n=10, **options):
        if int(n) < 1:
            raise ValueError(f"n must be >= 1, got {n}")

    module = types.ModuleType("figures.fake_refusing")
    module.FIGURE_ID, module.CAPTION, module.compute = "fake9", "refuses bad options", compute
    module.plot = module.tables = module.summary = module.headline = lambda data: None
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(registry, "discover", lambda: [registry.FigureEntry("fake9", module.CAPTION, module.__name__)])

    def run(argv):
        code = paper_repro_main(argv)
        if code:
            raise SystemExit(code)

    line = expect_usage_error(capsys, run, ["--figure", "fake9", "--option", f"n={bad}", "--out", str(tmp_path)])
    assert line == f"paper_repro.py: error: [fake9] {message}" and not any(tmp_path.iterdir())


def test_the_valid_base_commands_run(files, tmp_path, capsys):
    """The table's base argv are valid (so each case fails because of its one bad value)."""
    for name in ("sample", "teacher", "evaluate"):
        assert llm_main(_fill(COMMANDS[name][0], {**files, "tmp": str(tmp_path)})) == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1
    assert bench_main(_fill(BENCH["exact"][0], files)) == 0  # (bench llm's base loads the real model: not run here)
    from llm.experiments.distill import read_training_records

    assert read_training_records(files["teacher_data"]) == [_record()]


def test_missing_arguments_and_unknown_commands_are_one_line(no_model_loads, capsys):
    for argv in ([], ["sample"], ["distill", "--data"], ["nope"], ["sample", "--prompt", "x", "--bogus"]):
        expect_usage_error(capsys, llm_main, argv)
    for argv in ([], ["nope"]):
        expect_usage_error(capsys, bench_main, argv)
    from llm.experiments.cli import main as experiments_main  # python -m llm.experiments: the same commands

    line = expect_usage_error(capsys, experiments_main, ["teacher", "--n", "0", "--out", "t.jsonl"])
    assert line.startswith("python -m llm.experiments teacher: error: argument --n: ")


# -- the cases named in the issue -------------------------------------------------------------------------


def test_distill_with_a_missing_data_file_says_so(tmp_path, no_model_loads, capsys):
    line = expect_usage_error(capsys, llm_main, ["distill", "--data", "missing.jsonl", "--out", str(tmp_path / "s")])
    assert "missing.jsonl does not exist" in line and "completion token" not in line


def test_distill_with_negative_epochs_saves_nothing(files, tmp_path, no_model_loads, capsys):
    out = tmp_path / "student"
    line = expect_usage_error(capsys, llm_main, ["distill", "--data", files["teacher_data"], "--out", str(out), "--epochs", "-1"])
    assert "epochs must be > 0" in line and not out.exists()


def test_sample_temperature_at_alpha_zero(no_model_loads, capsys):
    line = expect_usage_error(capsys, llm_main, ["sample", "--method", "temperature", "--alpha", "0", "--prompt", "x"])
    assert line.startswith("python -m llm sample: error: argument --alpha: alpha must be > 0")


def test_a_model_path_that_does_not_exist(no_model_loads, capsys):
    for command in (["sample", "--prompt", "x"], ["teacher", "--n", "1", "--out", "t.jsonl"], ["evaluate"]):
        line = expect_usage_error(capsys, llm_main, [*command, "--model", "/nonexistent"])
        assert "/nonexistent: no such file or directory" in line and "Repo id" not in line


@pytest.mark.parametrize(
    "content, expected",
    [
        (json.dumps(_record(prompt_tokens=None)) + "\n", ":1: field 'prompt_tokens' must be a list of token ids"),
        (json.dumps(_record()) + "\n" + json.dumps({"id": "p1", "tokens": [1]}) + "\n", ":2: missing field 'prompt_tokens'"),
        (json.dumps(_record(tokens="3 4")) + "\n", ":1: field 'tokens' must be a list of token ids"),
        (json.dumps(_record(tokens=[3, -4])) + "\n", ":1: field 'tokens' must be a list of token ids"),
        (json.dumps(_record(tokens=[3, True])) + "\n", ":1: field 'tokens' must be a list of token ids"),
        (json.dumps(_record(tokens=[3, 4.5])) + "\n", ":1: field 'tokens' must be a list of token ids"),
        ("[1, 2]\n", ":1: a record must be a JSON object"),  # AttributeError before
        (json.dumps({"prompt_tokens": [1], "tokens": [2]}) + "\n", ":1: field 'id' must be a string"),
        (json.dumps(_record()) + "\n" + '{"id": "p1", "tokens": [1\n' + json.dumps(_record(id="p2")) + "\n",
         ":2: corrupt record"),
        ('{"id": "\xff"}\n'.encode("latin-1"), ":1: corrupt record"),  # UnicodeDecodeError before
        ("[" * 100_000 + "\n", ":1: corrupt record"),  # RecursionError
    ],
    ids=["null-field", "missing-field", "string-field", "negative-id", "bool-id", "float-id", "not-an-object",
         "no-id", "bad-json", "not-utf8", "deep-nesting"],
)
def test_malformed_teacher_lines_name_file_line_and_field(tmp_path, content, expected, no_model_loads, capsys):
    data = tmp_path / "teacher.jsonl"
    data.write_bytes(content if isinstance(content, bytes) else content.encode())
    line = expect_usage_error(capsys, llm_main, ["distill", "--data", str(data), "--out", str(tmp_path / "s")])
    assert f"{data}{expected}" in line


def test_token_ids_outside_the_vocabulary_name_file_line_and_field(tmp_path):
    from llm.experiments.distill import read_training_records

    data = tmp_path / "teacher.jsonl"
    data.write_text(json.dumps(_record()) + "\n" + json.dumps(_record(id="p1", tokens=[3, 40])) + "\n")
    with pytest.raises(ValueError, match=r"teacher.jsonl:2: field 'tokens' has token id 40, outside .* \[0, 40\)"):
        read_training_records(data, vocab_size=40)


def test_a_wrong_teacher_out_file_is_refused_and_left_untouched(files, capsys):
    before = Path(files["not_teacher"]).read_bytes()
    argv = _with(_fill(COMMANDS["teacher"][0], files), "--out", files["not_teacher"])
    line = expect_usage_error(capsys, llm_main, argv)
    assert f"{files['not_teacher']}:1: not a teacher record" in line
    assert Path(files["not_teacher"]).read_bytes() == before


# -- impossible combinations, found after parsing ------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--tensor-parallel-size", "2"], "--tensor-parallel-size needs --engine vllm"),
        (["--engine-arg", "max_model_len=64"], "--engine hf takes --engine-arg device and dtype only"),
        (["--engine-arg", "dtype=int8"], "--engine-arg dtype must name a floating torch dtype"),
        (["--engine-arg", "device=nowhere"], "--engine-arg device"),
        (["--engine-arg", "dtype=float32", "--engine-arg", "dtype=float64"], "--engine-arg dtype given twice"),
        (["--engine", "vllm", "--model", TOY], "a toy model runs without an engine; use --engine hf"),
        (["--method", "power-scalable", "--rollouts", "1"], "the jackknife needs rollouts >= 2"),
    ],
)
def test_impossible_combinations_are_one_line(extra, expected, no_model_loads, capsys):
    argv = ["sample", "--prompt", "", "--model", "default", "--method", "standard", *extra]
    assert expected in expect_usage_error(capsys, llm_main, argv)


def test_humaneval_without_its_sandbox_is_refused_before_a_model_loads(tmp_path, no_model_loads, monkeypatch, capsys):
    from llm.experiments import sandbox

    def missing():
        raise RuntimeError("refusing to run generated code: the sandbox needs bwrap; apt-get install bubblewrap")

    monkeypatch.setattr(sandbox, "require_sandbox", missing)
    for argv in (["teacher", "--n", "1", "--out", str(tmp_path / "t.jsonl")], ["evaluate"]):
        line = expect_usage_error(capsys, llm_main, [*argv, "--task", "humaneval"])
        assert line.endswith("error: refusing to run generated code: the sandbox needs bwrap; apt-get install bubblewrap")


def test_evaluate_refuses_a_toy_on_vllm_and_a_repeated_model(no_model_loads, capsys):
    line = expect_usage_error(capsys, llm_main, ["evaluate", "--engine", "vllm", "--model", "default", "--model", TOY])
    assert f"--model {TOY}: a toy model runs without an engine; use --engine hf" in line
    line = expect_usage_error(capsys, llm_main, ["evaluate", "--model", TOY, "--model", TOY, "--task", "toy"])
    assert "--model given twice" in line


# -- the engine option -----------------------------------------------------------------------------------


def test_engine_vllm_without_vllm_prints_the_install_hint(monkeypatch, capsys):
    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    from llm.vllm import INSTALL_HINT

    monkeypatch.setattr(llm, "HFModel", lambda *a, **k: pytest.fail("the hf engine was used"))
    for argv in (["sample", "--prompt", "What is 2+3?", "--method", "power-mh", "--alpha", "4"],
                 ["teacher", "--n", "1", "--out", "t.jsonl"], ["evaluate"]):
        line = expect_usage_error(capsys, llm_main, [*argv, "--engine", "vllm"])
        assert INSTALL_HINT in line
    assert INSTALL_HINT in expect_usage_error(capsys, bench_main, ["llm", "--quick", "--engine", "vllm"])


def test_engine_arguments_pass_through(monkeypatch, capsys):
    import exact
    import torch

    built = []

    def engine(kind):
        def build(model=None, **engine_args):
            built.append((kind, model, engine_args))
            return llm.ToyModel(exact.TabularAR.random(3, 3, 0))

        return build

    monkeypatch.setattr(llm, "VLLMModel", engine("vllm"))
    monkeypatch.setattr(llm, "HFModel", engine("hf"))
    base = ["sample", "--prompt", "", "--method", "standard", "--max-new-tokens", "2"]
    assert llm_main([*base, "--engine", "vllm", "--tensor-parallel-size", "2", "--data-parallel-size", "3",
                     "--engine-arg", "max_model_len=2048", "--engine-arg", "enforce_eager=True"]) == 0
    assert llm_main([*base, "--engine-arg", "dtype=bfloat16", "--engine-arg", "device=cpu"]) == 0
    assert llm_main([*base, "--model", "HuggingFaceTB/SmolLM2-135M"]) == 0
    assert built == [
        ("vllm", None, {"max_model_len": 2048, "enforce_eager": True, "tensor_parallel_size": 2, "data_parallel_size": 3}),
        ("hf", None, {"dtype": torch.bfloat16, "device": "cpu"}),
        ("hf", "HuggingFaceTB/SmolLM2-135M", {}),
    ]
    assert len(capsys.readouterr().out.splitlines()) == 3  # one JSON line per run


def test_a_model_that_fails_to_load_is_one_line(monkeypatch, capsys):
    def missing(model=None, **engine_args):
        raise OSError(f"{model} is not a local folder and is not a valid model identifier\nlisted on the hub")

    monkeypatch.setattr(llm, "HFModel", missing)
    line = expect_usage_error(capsys, llm_main, ["sample", "--prompt", "x", "--method", "standard", "--model", "org/no-such-model"])
    assert "cannot load model 'org/no-such-model': org/no-such-model is not a local folder" in line


# -- bugs still raise ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bug", [KeyError("record"), ZeroDivisionError("division by zero"), AttributeError("x"), RuntimeError("y")])
def test_a_bug_keeps_its_traceback(bug, tmp_path, monkeypatch):
    from llm.experiments import teacher

    def broken(*args, **kwargs):
        raise bug

    monkeypatch.setattr(teacher, "generate_teacher", broken)
    with pytest.raises(type(bug)):
        llm_main(_fill(COMMANDS["teacher"][0], {"tmp": str(tmp_path)}))


# -- the real entry points (subprocesses: a couple only) ------------------------------------------------------


def _python_m(args, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def test_python_m_llm_prints_one_line_and_exits_2():
    result = _python_m(["llm", "sample", "--method", "temperature", "--alpha", "0", "--prompt", "x"])
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == ["python -m llm sample: error: argument --alpha: alpha must be > 0, got 0.0"]


@pytest.mark.filterwarnings("ignore:'llm.__main__' found in sys.modules")
def test_python_m_llm_refuses_a_second_writer_in_one_line(tmp_path):
    """``python -m llm``'s entry point (in-process; its ``__main__`` block calls it): a locked ``--out`` is
    ``SystemExit(message)``, which Python prints as one line with exit status 1; ``main()`` itself raises
    ``OutputLocked``.  (Not ``runpy.run_module``: on a fresh clone's editable install pytest's assertion-rewriting
    hook is the loader of ``llm.__main__``, which ``runpy`` cannot use: AttributeError ``get_code``.)"""
    from exact._atomic_output import exclusive_lock
    from llm.__main__ import entry_point

    out = tmp_path / "rows.csv"
    argv = ["evaluate", "--model", TOY, "--task", "toy", "--methods", "standard", "--n", "1", "--seeds", "1", "--out", str(out)]
    with exclusive_lock(out), pytest.raises(SystemExit) as stop:
        entry_point(argv)
    assert isinstance(stop.value.code, str) and "\n" not in stop.value.code
    assert stop.value.code.startswith("python -m llm: error: ") and "another process" in stop.value.code


# -- the option types, CommandLineParser and run_command, called directly (messages matched from their start) ---


def _refused(convert, text: str) -> str:
    """The message of the ``ArgumentTypeError`` that ``convert(text)`` raises."""
    import argparse

    with pytest.raises(argparse.ArgumentTypeError) as error:
        convert(text)
    return str(error.value)


def test_number_option_types_accept_their_range_and_name_the_value():
    from exact import _validate as v

    count = v.integer_argument()
    assert count("1") == 1 and count.__name__ == "integer"
    assert _refused(count, "0") == "value must be an integer >= 1, got 0"
    bounded = v.integer_argument(0, 5, "k")
    assert bounded("0") == 0 and bounded("5") == 5
    assert _refused(bounded, "6") == "k must be an integer <= 5, got 6"
    assert _refused(bounded, "abc") == "expected an integer, got 'abc'"
    assert _refused(bounded, "x" * 50) == f"expected an integer, got {'x' * 40!r}"
    positive = v.positive_argument()
    assert positive("0.5") == 0.5 and positive.__name__ == "number"
    assert _refused(positive, "0") == "value must be > 0, got 0.0"
    assert _refused(positive, "y" * 50) == f"expected a number, got {'y' * 40!r}"
    capped = v.positive_argument("lr", maximum=2.0)
    assert capped("2") == 2.0
    assert _refused(capped, "3") == "lr must be <= 2, got 3.0"
    assert _refused(v.positive_argument("lr"), "-1") == "lr must be > 0, got -1.0"
    probability = v.probability_argument()
    assert probability("1") == 1.0 and probability("0.25") == 0.25 and probability.__name__ == "probability"
    assert _refused(probability, "0") == "value must be a probability in (0, 1], got 0.0"
    with_zero = v.probability_argument("p", allow_zero=True)
    assert with_zero("0") == 0.0
    assert _refused(with_zero, "1.5") == "p must be a probability in [0, 1], got 1.5"
    assert _refused(with_zero, "-0.5") == "p must be a probability in [0, 1], got -0.5"


def test_check_probability_bounds_and_messages():
    from exact._validate import check_probability

    assert check_probability(0.5, "p") == 0.5 and check_probability(1, "p") == 1.0
    assert check_probability(0.0, "p", allow_zero=True) == 0.0 and check_probability(1.0, "p", allow_zero=True) == 1.0
    with pytest.raises(ValueError, match=r"^p must be a probability in \(0, 1\], got 0\.0$"):
        check_probability(0.0, "p")  # zero is refused by default
    for value, allow_zero, message in [
        (0.0, False, r"^p must be a probability in \(0, 1\], got 0\.0$"),
        (1.5, False, r"^p must be a probability in \(0, 1\], got 1\.5$"),
        (-0.1, True, r"^p must be a probability in \[0, 1\], got -0\.1$"),
        (2.0, True, r"^p must be a probability in \[0, 1\], got 2\.0$"),
        ("x", False, r"^p must be a real number, got 'x'$"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_probability(value, "p", allow_zero=allow_zero)


def test_file_option_types(tmp_path, monkeypatch):
    from exact import _validate as v

    (tmp_path / "dir").mkdir()
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "one").write_bytes(b"x")
    (tmp_path / "file").write_text("text\n")
    read = v.input_file_argument()
    assert read(str(tmp_path / "one")) == tmp_path / "one" and read.__name__ == "input file"
    assert v.input_file_argument(allow_empty=True)(str(tmp_path / "empty")) == tmp_path / "empty"
    assert _refused(read, str(tmp_path / "empty")) == f"file {tmp_path / 'empty'} is empty"
    assert _refused(read, str(tmp_path / "missing")) == f"file {tmp_path / 'missing'} does not exist"
    assert _refused(read, str(tmp_path / "dir")) == f"{tmp_path / 'dir'} is a directory, not a file"
    assert _refused(read, "/dev/null") == "/dev/null is not a regular file"
    write, folder = v.output_file_argument, v.output_dir_argument
    assert write(str(tmp_path / "file")) == tmp_path / "file"  # an existing writable file
    assert write(str(tmp_path / "new" / "deeper" / "out.txt")) == tmp_path / "new" / "deeper" / "out.txt"
    assert folder(str(tmp_path / "dir")) == tmp_path / "dir" and folder(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    assert _refused(write, str(tmp_path / "dir")) == f"{tmp_path / 'dir'} is a directory; expected a file name"
    assert _refused(write, f"{tmp_path}/new/") == f"{tmp_path}/new/ is a directory; expected a file name"
    assert _refused(write, "/dev/null") == "/dev/null is not a regular file"
    assert _refused(write, str(tmp_path / "file" / "x" / "out")) == (
        f"cannot create {tmp_path / 'file' / 'x' / 'out'}: {tmp_path / 'file'} is not a directory"
    )
    assert _refused(folder, str(tmp_path / "file")) == f"{tmp_path / 'file'} exists and is not a directory"
    assert _refused(folder, str(tmp_path / "file" / "sub")) == f"cannot create {tmp_path / 'file' / 'sub'}: {tmp_path / 'file'} is not a directory"
    # permissions (the tests may run as root, where every access succeeds): os.access refuses all but F_OK
    monkeypatch.setattr(os, "access", lambda path, mode: mode == os.F_OK)
    assert _refused(read, str(tmp_path / "one")) == f"file {tmp_path / 'one'} is not readable"
    assert _refused(write, str(tmp_path / "file")) == f"file {tmp_path / 'file'} is not writable"
    assert _refused(write, str(tmp_path / "new.txt")) == f"cannot create {tmp_path / 'new.txt'}: directory {tmp_path} is not writable"
    assert _refused(folder, str(tmp_path / "dir")) == f"directory {tmp_path / 'dir'} is not writable"
    assert _refused(folder, str(tmp_path / "b")) == f"cannot create {tmp_path / 'b'}: directory {tmp_path} is not writable"


def test_key_value_and_choice_list_option_types():
    from exact import _validate as v

    pair = v.key_value_argument
    assert pair("n=3") == ("n", 3) and pair("x=abc") == ("x", "abc") and pair("a=b=c") == ("a", "b=c") and pair("e=") == ("e", "")
    for bad in ("x", "1a=2", "=1"):
        assert _refused(pair, bad) == f"expected KEY=VALUE with KEY a Python name, got {bad!r}"
    choices = v.choice_list_argument(["png", "pdf"])
    assert choices("png") == ["png"] and choices(" pdf , png,pdf,") == ["pdf", "png"] and choices.__name__ == "list"
    for bad in ("", ",", "gif", "png,gif"):
        assert _refused(choices, bad) == f"expected a comma-separated list of png, pdf; got {bad!r}"


def test_one_line_and_the_parser_error(capsys):
    from exact._validate import CommandLineParser, one_line

    assert one_line("a\n  b\tc ") == "a b c" and one_line(ValueError("x\ny")) == "x y"
    assert one_line("x" * 1000) == "x" * 1000
    assert one_line("x " * 600) == ("x " * 500)[:999] + "…"
    parser = CommandLineParser(prog="prog")
    with pytest.raises(SystemExit) as stop:
        parser.error("bad\nvalue")
    assert stop.value.code == 2 and capsys.readouterr().err == "prog: error: bad value\n"


def test_run_command_runs_the_handler_and_reports_user_errors(capsys):
    from exact._validate import CommandLineParser, count_argument, run_command

    parser = CommandLineParser(prog="prog")
    parser.add_argument("--n", type=count_argument, default=1)
    parser.set_defaults(handler=lambda args: 7)
    assert run_command(parser, ["--n", "3"], lambda args: args.n) == 3  # the handler given wins over args.handler
    assert run_command(parser, []) == 7
    assert run_command(parser, [], lambda args: None) == 0

    def fails(error):
        def handler(args):
            raise error

        return handler

    for error, line in [(ValueError("bad\n input"), "prog: error: bad input"), (FileNotFoundError(), "prog: error: FileNotFoundError")]:
        with pytest.raises(SystemExit) as stop:
            run_command(parser, [], fails(error))
        assert stop.value.code == 2 and capsys.readouterr().err == line + "\n"
    sub = CommandLineParser(prog="prog sub")
    parser.set_defaults(command_parser=sub)
    with pytest.raises(SystemExit):
        run_command(parser, [], fails(TypeError("wrong type")))
    assert capsys.readouterr().err == "prog sub: error: wrong type\n"  # the sub-command's parser reports it
    with pytest.raises(KeyError):
        run_command(parser, [], fails(KeyError("a bug")))  # not a user error: it propagates
