"""True rewards: the arithmetic checker, and the synthetic hash rewards r_λ of Appendix B.1."""

import hashlib

import numpy as np
import pytest

from llm.experiments.tasks import ArithmeticTask, get_task, hash_fraction, hash_noise, synthetic_rewards, zscore


def test_arithmetic_problems_are_seeded_and_the_checker_is_exact():
    task = ArithmeticTask(digits=2)
    problems = task.problems(50, seed=1)
    assert problems == task.problems(50, seed=1) and problems != task.problems(50, seed=2)
    assert len({p.id for p in problems}) == 50
    for p in problems:
        a, b = (int(v) for v in p.prompt.split("What is ")[1].split("?")[0].split(" + "))
        assert 10 <= a <= 99 and 10 <= b <= 99 and int(p.answer) == a + b
        assert task.reward(p.prompt, f"The answer is {a + b}.") == 1.0
        assert task.reward(p.prompt, f"{a} + {b} = {a + b}") == 1.0  # restating the question first is fine
        assert task.reward(p.prompt, f"{a} + {b} = {a + b + 1}") == 0.0
        assert task.reward(p.prompt, f"{a} + {b}") == 0.0  # stopped inside the restatement
        assert task.reward(p.prompt, "no idea") == 0.0


def test_arithmetic_difficulty_knob_and_thousands_separator():
    task = ArithmeticTask(digits=4, terms=3)
    (p,) = task.problems(1)
    total = int(p.answer)
    assert total >= 3000 and p.prompt.count("+") == 2
    assert task.reward(p.prompt, f"It is {total:,}") == 1.0
    with pytest.raises(ValueError):
        ArithmeticTask(digits=0)
    with pytest.raises(ValueError, match="not an arithmetic prompt"):
        task.reward("hello", "1")
    assert get_task("arithmetic", digits=3).digits == 3


def test_hash_fraction_reads_the_leading_64_bits_of_sha256():
    for text in ["", "42", "héllo wörld"]:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert hash_fraction(text) == int(digest[:16], 16) / 2**64
        assert 0 <= hash_fraction(text) < 1


def test_synthetic_rewards_follow_the_definition():
    rng = np.random.default_rng(0)
    completions = [f"completion {i}" for i in range(400)]
    self_rewards = rng.normal(-1.0, 0.3, size=400)
    lambdas = [-1.0, -0.5, 0.0, 0.5, 1.0]
    r = synthetic_rewards(completions, self_rewards, lambdas, seed=7)
    assert r.shape == (5, 400)
    z_self = (self_rewards - self_rewards.mean()) / self_rewards.std(ddof=1)
    np.testing.assert_allclose(r[4], z_self, atol=1e-12)
    np.testing.assert_allclose(r[0], -z_self, atol=1e-12)
    noise = np.array([hash_noise(c, 7) for c in completions])
    z_hash = zscore([hash_fraction(c) for c in completions])
    np.testing.assert_allclose(r[2], z_hash + noise, atol=1e-12)
    np.testing.assert_allclose(r[3], 0.5 * z_self + np.sqrt(0.75) * (z_hash + noise), atol=1e-12)
    # ε ~ N(0, 0.5²): sample sd of 400 draws within 4 SE (SE of sd ≈ 0.5/sqrt(2·400) = 0.018)
    assert abs(noise.std(ddof=1) - 0.5) < 4 * 0.5 / np.sqrt(800)
    # a function of the text: the same completion always gets the same noise, another seed other noise
    assert hash_noise("x", 7) == hash_noise("x", 7) != hash_noise("x", 8)
    # the covariance with z_self sweeps monotonically with λ (here exactly λ·1 + O(corr(z_self, noise)))
    cov = [np.cov(row, z_self)[0, 1] for row in r]
    assert all(a < b for a, b in zip(cov, cov[1:]))


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        synthetic_rewards(["a", "b"], [0.0, 1.0], [1.5])
    with pytest.raises(ValueError):
        synthetic_rewards(["a", "b"], [0.0], [0.5])
    with pytest.raises(ValueError, match="constant"):
        zscore([1.0, 1.0, 1.0])
