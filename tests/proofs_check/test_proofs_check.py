"""CI gate for ``proofs_check``: every identity check passes, the CLI works, and breaks are caught.

* one test per registered check (a broken identity fails CI under its own name);
* the CLI: ``--list``, ``--only`` (names and globs), status 2 on an unknown name,
  status 1 when a check fails (a failing check injected with ``monkeypatch``);
* deliberately broken formulas -- in ``proofs_check``'s own statement of the paper
  and in the ``exact`` package it cross-checks -- make the matching check FAIL.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import sympy as sp

import exact
import proofs_check
from proofs_check import CHECKS, Check, CheckFailed, run_check, select
from proofs_check.__main__ import main

#: The nine groups the issue asks for, each with at least one check.
REQUIRED = [
    "prop1_eq21", "prop1_eq7", "prop2_variance", "prop2_minimiser", "prop4_covariance", "prop5_eq14",
    "cor1_self_reward_tilt", "eq15_forward_kl", "sps_theorem31", "sps_lemma32_bias", "sps_lemma33_jackknife",
    "prop3_unique_max", "prop3_ties", "prop3_hellinger_step", "rational_prop1", "rational_prop2", "rational_prop4",
]


@pytest.mark.parametrize("name", list(CHECKS))
def test_check_passes(name: str) -> None:
    result = run_check(CHECKS[name])
    assert result.passed, f"{name} ({CHECKS[name].source}) failed: {result.detail}"


def test_required_checks_are_registered() -> None:
    missing = [name for name in REQUIRED if name not in CHECKS]
    assert not missing, f"missing checks: {missing}"


def test_rational_prop4_uses_the_package_covariance() -> None:
    """Prop. 4 is cross-checked against ``exact.reward_slope``, not the local fallback."""
    assert hasattr(exact, "reward_slope")
    assert "exact.reward_slope" in run_check(CHECKS["rational_prop4"]).detail


# -- the command line --------------------------------------------------------------------------


def test_cli_list_in_a_subprocess() -> None:
    completed = subprocess.run([sys.executable, "-m", "proofs_check", "--list"], capture_output=True, text=True,
                               timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    listed = [line.split()[0] for line in completed.stdout.splitlines() if line.strip()]
    assert listed == list(CHECKS)


def test_cli_only_runs_one_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--only", "prop2_variance"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # the check's line and the summary
    name, *_ = lines[0].split()
    assert name == "prop2_variance"
    assert " PASS " in lines[0] and lines[0].rstrip().endswith("s")
    assert CHECKS["prop2_variance"].statement in lines[0]
    assert lines[1].startswith("1 checks, 1 passed, 0 failed")


def test_cli_only_accepts_globs_and_commas(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--only", "prop3_*,eq15_forward_kl"]) == 0
    out = capsys.readouterr().out
    assert "4 checks, 4 passed" in out
    assert [c.name for c in select(["prop3_*"])] == ["prop3_unique_max", "prop3_ties", "prop3_hellinger_step"]


def test_cli_unknown_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--only", "no_such_check"])
    assert stop.value.code == 2
    assert "no check matches 'no_such_check'" in capsys.readouterr().err


def test_cli_exits_nonzero_on_an_injected_broken_check(monkeypatch, capsys) -> None:
    def broken() -> str:
        raise CheckFailed("1 + 1 = 3 does not hold")

    monkeypatch.setitem(CHECKS, "broken_identity", Check("broken_identity", "1 + 1 = 3", "nowhere", broken))
    assert main(["--only", "broken_identity,prop2_variance"]) == 1
    out = capsys.readouterr().out
    assert "broken_identity" in out and " FAIL " in out and "1 + 1 = 3 does not hold" in out
    assert "2 checks, 1 passed, 1 failed" in out


def test_a_crashing_check_is_a_failure() -> None:
    def crashes() -> str:
        raise ZeroDivisionError("oops")

    result = run_check(Check("crash", "crashes", "nowhere", crashes))
    assert not result.passed and "ZeroDivisionError" in result.detail


# -- deliberately broken identities are caught --------------------------------------------------


def _flipped_eq7(entropy_a, entropy_b, alpha):
    """Eq. (7) with the sign of ``(1 - α)`` flipped."""
    return sp.exp((alpha - 1) * (entropy_a - entropy_b))


def _eq21_without_prefix_power(p, q, alpha):
    """Eq. (21) with ``p(s)`` instead of ``p(s)^α`` (the per-token factor left untempered)."""
    scores = [p[s] * sp.Add(*(v**alpha for v in q[s])) for s in range(len(p))]
    return [score / sp.Add(*scores) for score in scores]


def _variance_without_minus_one(f, q):
    return sp.Add(*(f[v] ** 2 / q[v] for v in range(len(q))))


_PROP4_COVARIANCE = proofs_check.sharpening.prop4_covariance


def _covariance_with_wrong_sign(base, reward, alpha):
    return -_PROP4_COVARIANCE(base, reward, alpha)


def _tilt_with_beta_upside_down(base, reward, beta):
    unnormalised = [base[y] * sp.exp(reward[y] * beta) for y in range(len(base))]
    total = sp.Add(*unnormalised)
    return [u / total for u in unnormalised], total


_LAGRANGE_GAP = proofs_check.sharpening._lagrange_gap


def _lagrange_without_cross_terms(size):
    """Lagrange's identity with the ``-(u·v)²`` cross terms dropped (``‖u‖²‖v‖² - Σ u_i² v_i²``)."""
    lagrange, squares = _LAGRANGE_GAP(size)
    u, v = sp.symbols(f"u0:{size}", positive=True), sp.symbols(f"v0:{size}", positive=True)
    cross = sp.expand(sp.Add(*(a * b for a, b in zip(u, v))) ** 2 - sp.Add(*((a * b) ** 2 for a, b in zip(u, v))))
    return lagrange + cross, squares


def _power_is_temperature_symbolic(joint, alpha):
    """The Eq. (6) definition replaced by the temperature conditional (Eq. 5): first-token marginals to the α."""
    scores = [sp.Add(*row) ** alpha for row in joint]
    return [score / sp.Add(*scores) for score in scores]


def _power_definition_without_the_exponent(joint, alpha):
    """The Eq. (6) definition with ``α`` dropped: the base conditional ``π(s | y_<t)`` (equal to none of
    the check's negative controls for symbolic ``α``, so only Theorem 3.1's first identity can see it)."""
    numerators = [sp.Add(*row) for row in joint]
    return [n / sp.Add(*numerators) for n in numerators]


def _zeta_doubled(q_s, alpha):
    """2·ζ(s): Theorem 3.1's ratio is unchanged, only the second identity ζ(s) = Σ q_s^α can see it."""
    return 2 * sp.Add(*(v**alpha for v in q_s))


def _zeta_without_the_expectation_weight(q_s, alpha):
    """ζ(s) = Σ_z q_s(z)^(α-1): the expectation taken under the uniform law instead of q_s."""
    return sp.Add(*(v ** (alpha - 1) for v in q_s))


SYMBOLIC_BREAKS = {
    "prop1_eq7": (proofs_check.power_conditionals, "eq7_prediction", _flipped_eq7),
    "prop1_eq21": (proofs_check.power_conditionals, "power_conditional_eq21", _eq21_without_prefix_power),
    "prop2_variance": (proofs_check.importance, "prop2_variance", _variance_without_minus_one),
    "prop4_covariance": (proofs_check.sharpening, "prop4_covariance", _covariance_with_wrong_sign),
    "prop5_eq14": (proofs_check.self_reward, "tilted", _tilt_with_beta_upside_down),
    "prop3_hellinger_step": (proofs_check.sharpening, "_lagrange_gap", _lagrange_without_cross_terms),
    # SPS Theorem 3.1 has two identities; each break below is visible to one of them only, so a
    # check that made either identity tautological (e.g. compared ζ with itself) fails here.
    # "definition" (the temperature conditional) also equals the check's p(s)^α negative control in
    # exact arithmetic; it passes that control only because sympy does not reduce (Σ_z q_s(z))^α to 1.
    # "definition_no_power" sees a tautological first identity whatever sympy proves.
    "sps_theorem31/definition": (proofs_check.power_conditionals, "power_conditional_definition", _power_is_temperature_symbolic),
    "sps_theorem31/definition_no_power": (
        proofs_check.power_conditionals, "power_conditional_definition", _power_definition_without_the_exponent,
    ),
    "sps_theorem31/zeta_scale": (proofs_check.power_conditionals, "zeta", _zeta_doubled),
    "sps_theorem31/zeta_weight": (proofs_check.power_conditionals, "zeta", _zeta_without_the_expectation_weight),
}


@pytest.mark.parametrize("name", list(SYMBOLIC_BREAKS))
def test_a_broken_paper_formula_fails_its_check(name, monkeypatch) -> None:
    module, attribute, replacement = SYMBOLIC_BREAKS[name]
    monkeypatch.setattr(module, attribute, replacement)
    result = run_check(CHECKS[name.split("/")[0]])
    assert not result.passed, f"{name} still passed with {attribute} broken"


def _negated_renyi_prediction(original):
    def broken(model, prefix, a, b, alpha):
        result = original(model, prefix, a, b, alpha)
        return result._replace(renyi_prediction=-result.renyi_prediction)

    return broken


def _power_is_temperature(original):
    return lambda model, prefix, alpha: exact.temp_conditional(model, prefix, alpha)


def _variance_is_second_moment(original):
    def broken(model, prefix, alpha, proposal="optimal"):
        stats = original(model, prefix, alpha, proposal)
        return stats._replace(variance=stats.variance + stats.mean**2)

    return broken


def _slope_with_wrong_sign(original):
    return lambda model, reward, alpha: -original(model, reward, alpha)


def _tilt_with_exponent_one_over_beta(original):
    return lambda model, beta: exact.power_joint(model, 1.0 / beta)  # α = 1/β instead of 1 + 1/β


def _relative_break(scale):
    """The package value off by a relative ``scale`` (a float64 transcription slip the 1e-12 tier must see)."""

    def make(original):
        return lambda *args, **kwargs: original(*args, **kwargs) * (1 + scale)

    return make


PACKAGE_BREAKS = {
    "odds_correction": ("rational_prop1", _negated_renyi_prediction),
    "power_conditional": ("rational_prop1", _power_is_temperature),
    "incremental_weight_stats": ("rational_prop2", _variance_is_second_moment),
    "reward_slope": ("rational_prop4", _slope_with_wrong_sign),
    "self_reward_tilt": ("rational_cor1_prop3", _tilt_with_exponent_one_over_beta),
    # tolerance pinned: relative errors of 1e-6 and 1e-10 fail (REL_TOL = 1e-12; 1e-4 would pass both)
    "power_conditional/1e-6": ("rational_prop1", _relative_break(1e-6)),
    "power_conditional/1e-10": ("rational_prop1", _relative_break(1e-10)),
    "reward_slope/1e-6": ("rational_prop4", _relative_break(1e-6)),
    "sharpening_mass/1e-6": ("rational_cor1_prop3", _relative_break(-1e-6)),
}


@pytest.mark.parametrize("function", list(PACKAGE_BREAKS))
def test_a_transcription_error_in_exact_fails_the_rational_check(function, monkeypatch, capsys) -> None:
    name, make_broken = PACKAGE_BREAKS[function]
    function = function.split("/")[0]
    monkeypatch.setattr(exact, function, make_broken(getattr(exact, function)))
    assert main(["--only", name]) == 1
    out = capsys.readouterr().out
    assert " FAIL " in out and "->" in out


def test_negative_controls_reject_a_wrong_identity() -> None:
    """The decision procedure is not vacuous: a false identity does not 'vanish'."""
    from proofs_check._algebra import simplex, vanishes

    alpha = sp.Symbol("alpha", positive=True)
    p = simplex("w", 3)
    assert vanishes((p[0] * p[1]) ** alpha - p[0] ** alpha * p[1] ** alpha)
    assert not vanishes(sp.Add(*(v**alpha for v in p)) - 1)
    assert not vanishes(p[0] ** alpha - p[0])
