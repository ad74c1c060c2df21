"""Algorithm 2 (block MH, Power(∞)): exact output distribution vs an independent brute force, and the one
sampler (``llm.sample_power_mh`` / ``llm.sample_power_inf`` on ``llm.ToyModel``) against it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import exact
from exact._tables import prefix_marginal_tables, temperature_prefix_tables
from exact.eos import completion_lengths
from exact.samplers import chi_square_pvalue, mh_block_target, mh_expected_cost, mh_kernel, mh_output_distribution
from exact.samplers.mh import mh_kernel_from_tables


#: Chains per chi-square check of the llm sampler (the numpy copy ran 20 000; the Pearson criterion is unchanged).
N_CHAINS = 200


def llm_mh(model, alpha, block, n_mcmc, n, seed, greedy=False):
    """``n`` chains of the one MH implementation (``llm``) on ``llm.ToyModel(model)``: (sequences, tokens sampled)."""
    torch = pytest.importorskip("torch")
    import llm

    sampler = llm.sample_power_inf if greedy else llm.sample_power_mh
    out = sampler(llm.ToyModel(model), [], n, alpha, torch.Generator().manual_seed(seed), block, n_mcmc, progress=False)
    return np.array(out.tokens), out.required_tokens


# -- independent brute-force implementation: explicit loops over states, m and suffixes ----------
def _prefix_prob(model, prefix):
    joint = model.joint()
    return float(joint[tuple(prefix)].sum())


def _proposal_prob(model, prefix, suffix, beta):
    prob, ctx = 1.0, list(prefix)
    for token in suffix:
        if prob == 0.0:
            return 0.0
        p = model.conditional(ctx) ** beta
        prob *= p[token] / p.sum()
        ctx.append(token)
    return prob


def brute_force_mh(model, alpha, block, n_mcmc, beta, greedy=False):
    """Algorithm 2 by explicit enumeration of every (state, m, proposal) triple; dict of sequence -> prob."""
    sizes = model.vocab_sizes
    dist = {(): 1.0}
    for k in range(model.horizon // block):
        L = (k + 1) * block
        new = {}
        for prefix, p in dist.items():
            if p == 0.0:
                continue
            for ext in itertools.product(*[range(v) for v in sizes[k * block : L]]):
                new[prefix + ext] = new.get(prefix + ext, 0.0) + p * _proposal_prob(model, prefix, ext, beta)
        dist = new
        states = list(itertools.product(*[range(v) for v in sizes[:L]]))
        pi = {y: _prefix_prob(model, y) for y in states}
        step = {}
        for y in states:
            if pi[y] == 0:
                continue
            row = {y: 1.0}
            for m in range(1, L + 1):
                for z in itertools.product(*[range(v) for v in sizes[m - 1 : L]]):
                    y2 = y[: m - 1] + z
                    q_fwd = _proposal_prob(model, y[: m - 1], z, beta)
                    if q_fwd == 0:
                        continue
                    if greedy:
                        acc = 1.0 if pi[y2] > pi[y] * (1 + 1e-9) else 0.0  # ties within 1e-9 never accepted
                    else:
                        q_back = _proposal_prob(model, y[: m - 1], y[m - 1 :], beta)
                        acc = min(1.0, (pi[y2] / pi[y]) ** alpha * q_back / q_fwd)
                    row[y2] = row.get(y2, 0.0) + q_fwd * acc / L
                    row[y] -= q_fwd * acc / L
            step[y] = row
        for _ in range(n_mcmc):
            nxt = {}
            for y, p in dist.items():
                for y2, kk in step.get(y, {y: 1.0}).items():
                    nxt[y2] = nxt.get(y2, 0.0) + p * kk
            dist = nxt
    out = np.zeros(sizes)
    for y, p in dist.items():
        out[y] += p
    return out


@pytest.mark.parametrize(
    "sizes, block, n_mcmc, alpha, beta, greedy, seed",
    [
        ((2, 2, 2, 2), 2, 3, 4.0, None, False, 0),
        ((3, 2, 3), 1, 2, 2.5, None, False, 1),
        ((2, 3, 2), 3, 4, 0.5, 1.0, False, 2),
        ((2, 2, 2, 2), 4, 3, 3.0, 2.0, False, 3),
        ((3, 3), 1, 3, 4.0, None, True, 4),
        ((2, 2, 2, 2), 2, 2, 4.0, None, True, 5),
    ],
)
def test_exact_mh_matches_brute_force(sizes, block, n_mcmc, alpha, beta, greedy, seed):
    model = exact.TabularAR.random(sizes, seed=seed)
    got = mh_output_distribution(model, alpha, block, n_mcmc, proposal_alpha=beta, greedy=greedy)
    want = brute_force_mh(model, alpha, block, n_mcmc, alpha if beta is None else beta, greedy)
    np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)
    assert got.exact and got.expected_cost == mh_expected_cost(model.horizon, block, n_mcmc)


def test_exact_mh_with_zero_probability_sequences():
    model = exact.TabularAR.random((3, 3, 2), seed=7, zero_fraction=0.4)
    got = mh_output_distribution(model, 3.0, 1, 3)
    want = brute_force_mh(model, 3.0, 1, 3, 3.0)
    np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)
    assert got.probabilities[model.joint() == 0].sum() == 0


#: Ties in π: three sequences of probability 0.3, with different proposal probabilities.
#: Power(∞) never accepts a tie (">", not ">="): the laws differ from those of a ">=" kernel.
TIED = np.array([[0.1, 0.3], [0.3, 0.3]])
TIED_3 = np.array([[[0.05, 0.2], [0.0, 0.2]], [[0.2, 0.05], [0.2, 0.1]]])


@pytest.mark.parametrize("joint, block", [(TIED, 1), (TIED, 2), (TIED_3, 1), (TIED_3, 3)], ids=["2x2-B1", "2x2-B2", "2x2x2-B1", "2x2x2-B3"])
def test_power_infinity_never_accepts_a_tie(joint, block):
    """Exact Power(∞) law on models with tied sequences equals the brute force (strict ``>``), and the
    simulation follows it (TIED_3's ties are computed by different float routes, a few ulps apart)."""
    model = exact.TabularAR.from_joint(joint)
    got = mh_output_distribution(model, 4.0, block, 2, greedy=True)
    np.testing.assert_allclose(got.probabilities, brute_force_mh(model, 4.0, block, 2, 4.0, greedy=True), atol=1e-12, rtol=0)
    sequences, _ = llm_mh(model, 4.0, block, 2, N_CHAINS, block, greedy=True)
    assert chi_square_pvalue(sequences, got.probabilities) > 0.01


# B = 1, B = T and Power(∞) run in tests/llm/test_mh_toy.py (chi-square against a brute-force law) and, with their
# token cost, in tests/llm/test_exact_laws_by_backend.py; here B = 2 < T = 4 without EOS, law and token cost.
@pytest.mark.parametrize("block, greedy, seed", [(2, False, 11)])
def test_mh_simulation_matches_exact(block, greedy, seed):
    # N = 200 llm chains on 2^4 = 16 sequences; the Pearson statistic is chi-square under H0
    model = exact.TabularAR.random(2, 4, seed=seed)
    sequences, tokens = llm_mh(model, 3.0, block, 3, N_CHAINS, seed, greedy=greedy)
    exact_dist = mh_output_distribution(model, 3.0, block, 3, greedy=greedy).probabilities
    assert chi_square_pvalue(sequences, exact_dist) > 0.01
    expected_cost = mh_expected_cost(4, block, 3)
    # token cost: L - m + 1 with m uniform (per-chain sd 2.1 tokens); 5 % (0.8) is > 5 standard errors of the mean
    assert abs(tokens / N_CHAINS - expected_cost) < 0.05 * expected_cost


@pytest.mark.parametrize("length, beta, greedy", [(1, None, False), (2, None, False), (3, 1.0, False), (3, 0.3, False)])
def test_kernel_is_stochastic_and_reversible_wrt_block_target(length, beta, greedy):
    model = exact.TabularAR.random(3, 3, seed=length)
    alpha = 2.7
    K = mh_kernel(model, alpha, length, proposal_alpha=beta, greedy=greedy)
    target = mh_block_target(model, alpha, length).reshape(-1)
    assert np.all(K >= -1e-15)
    np.testing.assert_allclose(K.sum(axis=1), 1.0, atol=1e-12)
    flow = target[:, None] * K
    np.testing.assert_allclose(flow, flow.T, atol=1e-13)  # detailed balance
    np.testing.assert_allclose(target @ K, target, atol=1e-13)  # invariance


def test_block_target_is_not_power_prefix_marginal():
    model = exact.TabularAR.random(3, 3, seed=0)
    alpha = 4.0
    block_target = mh_block_target(model, alpha, 1)
    power_marginal = exact.power_joint(model, alpha).sum(axis=(1, 2))
    assert np.abs(block_target - power_marginal).sum() > 1e-3
    np.testing.assert_allclose(mh_block_target(model, alpha, 3), exact.power_joint(model, alpha), atol=1e-14)


@pytest.mark.parametrize("block", [1, 2, 4])
def test_many_steps_converge_to_power_distribution(block):
    model = exact.TabularAR.random(2, 4, seed=21)
    alpha = 3.0
    dist = mh_output_distribution(model, alpha, block, 3000).probabilities
    np.testing.assert_allclose(dist, exact.power_joint(model, alpha), atol=1e-9)


def test_power_infinity_concentrates_on_unimprovable_sequences():
    model = exact.TabularAR.random((2, 3, 2), seed=5)
    logp = model.log_joint()
    sizes = model.vocab_sizes
    # sequences no single-suffix move (any m, any positive-probability suffix) improves
    unimprovable = np.zeros(sizes, dtype=bool)
    for y in itertools.product(*[range(v) for v in sizes]):
        better = any(
            logp[y[: m - 1] + z] > logp[y]
            for m in range(1, len(sizes) + 1)
            for z in itertools.product(*[range(v) for v in sizes[m - 1 :]])
        )
        unimprovable[y] = not better
    masses = [mh_output_distribution(model, 4.0, 1, n, greedy=True).probabilities[unimprovable].sum() for n in (1, 10, 100, 1000)]
    assert all(b >= a - 1e-12 for a, b in zip(masses, masses[1:]))
    assert masses[-1] > 1 - 1e-9


def test_mh_rejects_bad_input():
    model = exact.TabularAR.random(2, 4, seed=0)
    with pytest.raises(ValueError, match="block_size"):
        mh_output_distribution(model, 2.0, 0, 1)
    with pytest.raises(ValueError, match="n_mcmc"):
        mh_output_distribution(model, 2.0, 2, -1)
    with pytest.raises(ValueError, match="alpha"):
        mh_output_distribution(model, 0.0, 2, 1)


# -- property tests over random models (exact.testing strategies) ---------------------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from exact.testing import strategies as sx  # noqa: E402


@settings(max_examples=15)
@given(
    sx.tabular_models(max_vocab=3, max_horizon=3, zeros=False),
    st.sampled_from([0.5, 2.0, 4.0]),
    st.integers(0, 3),
    st.booleans(),
    st.data(),
)
def test_property_exact_mh_matches_brute_force_on_full_support_models(model, alpha, n_mcmc, greedy, data):
    T = model.horizon
    block = data.draw(st.sampled_from([b for b in range(1, T + 1) if T % b == 0]))
    got = mh_output_distribution(model, alpha, block, n_mcmc, greedy=greedy).probabilities
    np.testing.assert_allclose(got, brute_force_mh(model, alpha, block, n_mcmc, alpha, greedy), atol=1e-10, rtol=0)
    np.testing.assert_allclose(got.sum(), 1.0, atol=1e-12)


@settings(max_examples=30)
@given(sx.tabular_models(max_vocab=4, max_horizon=3), st.sampled_from([0.3, 1.0, 3.0, 20.0]), st.sampled_from([None, 1.0, 0.5]))
def test_property_every_stage_kernel_is_reversible_wrt_its_block_target(model, alpha, beta):
    for length in range(1, model.horizon + 1):
        K = mh_kernel(model, alpha, length, proposal_alpha=beta)
        target = mh_block_target(model, alpha, length).reshape(-1)
        assert np.all(K >= -1e-15)
        np.testing.assert_allclose(K.sum(axis=1), 1.0, atol=1e-12)
        flow = target[:, None] * K
        np.testing.assert_allclose(flow, flow.T, atol=1e-13)


def test_stress_larger_state_space_converges():
    # 3^6 = 729 prefixes at the last stage: a 729 x 729 kernel raised to the 2000th power
    model = exact.TabularAR.random(3, 6, seed=30)
    for block in (2, 3, 6):
        dist = mh_output_distribution(model, 2.0, block, 2000).probabilities
        np.testing.assert_allclose(dist, exact.power_joint(model, 2.0), atol=1e-8)


# -- EOS: variable-length completions (exact.eos), m ~ U{1..|y|}, the Hastings factor |y|/|y'| ----------
class _Completions:
    """A model read only through ``conditional`` at contexts that have not ended: variable-length completions."""

    def __init__(self, model):
        self.model, self.eos, self.horizon = model, model.eos_token_id, model.horizon
        self._cond = {}

    def cond(self, ctx):
        if ctx not in self._cond:
            self._cond[ctx] = np.asarray(self.model.conditional(list(ctx)), dtype=np.float64)
        return self._cond[ctx]

    def prop(self, head, suffix, beta):
        prob, ctx = 1.0, tuple(head)
        for token in suffix:
            p = self.cond(ctx) ** beta
            prob *= p[token] / p.sum()
            ctx += (token,)
        return prob

    def continuations(self, head, L):
        """Every suffix after ``head``: tokens until EOS (included) or until the completion has ``L`` tokens."""
        out = []

        def grow(z):
            if (z and z[-1] == self.eos) or len(head) + len(z) == L:
                out.append(z)
                return
            for v in range(self.model.vocab_sizes[len(head) + len(z)]):
                grow(z + (v,))

        grow(())
        return out


def _mh_step(c, y, L, alpha, beta, greedy, hastings):
    """One MH step from the completion y (a tuple) with blocks ending at L: {y': probability} and the expected
    tokens the proposal samples (m ~ U{1..|y|}, regrowth until EOS or L, the factor |y|/|y'| with ``hastings``)."""
    pi = lambda z: c.prop((), z, 1.0)  # noqa: E731
    row, tokens = {y: 1.0}, 0.0
    for m in range(1, len(y) + 1):
        head = y[: m - 1]
        for z in c.continuations(head, L):
            y2, fwd = head + z, c.prop(head, z, beta)
            if fwd == 0:
                continue
            tokens += fwd * len(z) / len(y)
            if greedy:
                acc = float(pi(y2) > pi(y))
            else:
                ratio = (pi(y2) / pi(y)) ** alpha * c.prop(head, y[m - 1 :], beta) / fwd
                acc = min(1.0, ratio * (len(y) / len(y2) if hastings else 1.0))
            row[y2] = row.get(y2, 0.0) + fwd * acc / len(y)
            row[y] -= fwd * acc / len(y)
    return row, tokens


def brute_force_mh_eos(model, alpha, block, n_mcmc, beta, greedy=False, hastings=True):
    """Algorithm 2 as llm.sample_power_mh runs it, over variable-length completions (tuples, no padding).

    Blocks end at L_k = min((k+1)B, T); a completion ending at EOS skips the later blocks; each step
    draws m uniformly from 1..|y|, regrows y'_{m:} until EOS or L, and accepts with
    min(1, (π(y')/π(y))^α q(y_{m:})/q(y'_{m:}) · |y|/|y'|) (the last factor only with ``hastings``).
    Returns (padded output table, expected tokens sampled).
    """
    c = _Completions(model)
    eos, T = c.eos, c.horizon
    pi = lambda y: c.prop((), y, 1.0)  # noqa: E731

    def step(y, L):
        return _mh_step(c, y, L, alpha, beta, greedy, hastings)

    dist, cost = {(): 1.0}, 0.0
    for k in range(math.ceil(T / block)):
        L = min((k + 1) * block, T)
        done = {y: p for y, p in dist.items() if y and y[-1] == eos}
        moving = {}
        for y, p in dist.items():
            if y in done:
                continue
            for z in c.continuations(y, L):
                w = p * c.prop(y, z, beta)
                if w > 0:
                    moving[y + z] = moving.get(y + z, 0.0) + w
                    cost += w * len(z)
        rows = {y: step(y, L) for y in c.continuations((), L) if pi(y) > 0} if n_mcmc else {}
        for _ in range(n_mcmc):
            nxt = {}
            for y, p in moving.items():
                row, tokens = rows[y]
                cost += p * tokens
                for y2, kk in row.items():
                    nxt[y2] = nxt.get(y2, 0.0) + p * kk
            moving = nxt
        dist = dict(done)
        for y, p in moving.items():
            dist[y] = dist.get(y, 0.0) + p
    out = np.zeros(model.vocab_sizes)
    for y, p in dist.items():
        out[tuple(y) + (eos,) * (T - len(y))] += p
    return out, cost


def _eos_model(V=3, T=4, seed=1, eos=2, concentration=1.0):
    model = exact.TabularAR.random(V, T, seed=seed, eos_token_id=eos, concentration=concentration)
    lengths = model.completion_lengths(np.moveaxis(np.indices(model.vocab_sizes), 0, -1).reshape(-1, T))
    assert model.joint().reshape(-1)[lengths < T].sum() > 0.3  # EOS ends many completions early
    return model


@pytest.mark.parametrize(
    "block, n_mcmc, alpha, beta, greedy, hastings, seed",
    [
        (4, 2, 2.0, None, False, True, 1),  # B = T
        (2, 2, 2.0, None, False, True, 2),  # chains finished in block 0 skip block 1
        (3, 2, 3.0, None, False, True, 3),  # B does not divide T: blocks end at 3, 4
        (1, 1, 2.0, None, False, True, 4),
        (5, 1, 2.0, None, False, True, 5),  # B > T: one block of T tokens
        (3, 2, 2.5, 1.0, False, True, 16),  # proposal at temperature 1
        (2, 2, 4.0, None, True, True, 7),  # Power(∞)
        (3, 2, 2.0, None, True, True, 8),
        (2, 2, 2.0, None, False, False, 9),  # without the Hastings factor
        (2, 0, 2.0, None, False, True, 10),  # extensions only
    ],
)
def test_eos_exact_mh_matches_variable_length_brute_force(block, n_mcmc, alpha, beta, greedy, hastings, seed):
    """The padded-table law (and its token cost) equals Algorithm 2 run over variable-length completions."""
    model = _eos_model(seed=seed)
    got = mh_output_distribution(model, alpha, block, n_mcmc, proposal_alpha=beta, greedy=greedy, hastings=hastings)
    want, cost = brute_force_mh_eos(model, alpha, block, n_mcmc, alpha if beta is None else beta, greedy, hastings)
    np.testing.assert_allclose(got.probabilities, want, atol=1e-12, rtol=0)
    assert got.exact and got.expected_cost == pytest.approx(cost, rel=1e-12)


@pytest.mark.parametrize("block, greedy", [(3, False), (3, True), (5, False)])
def test_block_size_not_dividing_the_horizon_without_eos(block, greedy):
    """L_k = min((k+1)B, T) as llm does; the EOS-free brute force is the same routine with no EOS."""
    model = exact.TabularAR.random((2, 3, 2, 2), seed=block)
    got = mh_output_distribution(model, 2.0, block, 2, greedy=greedy)
    want, cost = brute_force_mh_eos(model, 2.0, block, 2, 2.0, greedy)
    np.testing.assert_allclose(got.probabilities, want, atol=1e-12, rtol=0)
    assert got.expected_cost == pytest.approx(cost, rel=1e-12) and got.expected_cost == mh_expected_cost(4, block, 2)
    assert exact.samplers.mh_block_ends(4, block) == ([3, 4] if block == 3 else [4])


def _stationary(K: np.ndarray, support: np.ndarray) -> np.ndarray:
    """The left eigenvector of K restricted to ``support`` for eigenvalue 1 (normalised, zero elsewhere)."""
    sub = K[np.ix_(support, support)]
    values, vectors = np.linalg.eig(sub.T)
    v = np.real(vectors[:, np.argmin(np.abs(values - 1.0))])
    out = np.zeros(K.shape[0])
    out[support] = v / v.sum()
    return out


def test_eos_kernel_needs_the_hastings_factor_for_pi_alpha():
    """Detailed balance under EOS: with |y|/|y'| every block kernel is reversible w.r.t. π(y_{1:L})^α and
    the last one's stationary law is π_α; without it the kernel is reversible w.r.t. |y| π(y_{1:L})^α
    (the bias the issue measured) and π_α is not stationary."""
    model = _eos_model(seed=11)
    alpha, T = 2.0, model.horizon
    for L in range(1, T + 1):
        target = mh_block_target(model, alpha, L).reshape(-1)
        lengths = exact.completion_lengths(np.moveaxis(np.indices(model.vocab_sizes[:L]), 0, -1).reshape(-1, L), 2)
        for hastings, law in ((True, target), (False, lengths * target / (lengths * target).sum())):
            K = mh_kernel(model, alpha, L, hastings=hastings)
            assert np.all(K >= -1e-15)
            np.testing.assert_allclose(K.sum(axis=1), 1.0, atol=1e-12)
            flow = law[:, None] * K
            np.testing.assert_allclose(flow, flow.T, atol=1e-14)
    power = exact.power_joint(model, alpha).reshape(-1)
    support = np.flatnonzero(power > 0)
    good, bad = mh_kernel(model, alpha, T), mh_kernel(model, alpha, T, hastings=False)
    np.testing.assert_allclose(_stationary(good, support), power, atol=1e-12)
    biased = lengths * power / (lengths * power).sum()
    np.testing.assert_allclose(_stationary(bad, support), biased, atol=1e-12)
    assert np.abs(power @ bad - power).sum() > 1e-2  # π_α is not stationary without the factor
    assert 0.5 * np.abs(biased - power).sum() > 0.05


def test_eos_many_steps_single_block_reach_pi_alpha_or_the_length_biased_law():
    model = _eos_model(seed=12)
    alpha = 2.0
    power = exact.power_joint(model, alpha)
    lengths = model.completion_lengths(np.moveaxis(np.indices(model.vocab_sizes), 0, -1).reshape(-1, 4)).reshape(power.shape)
    np.testing.assert_allclose(mh_output_distribution(model, alpha, 4, 2000).probabilities, power, atol=1e-9)
    biased = lengths * power / (lengths * power).sum()
    np.testing.assert_allclose(mh_output_distribution(model, alpha, 4, 2000, hastings=False).probabilities, biased, atol=1e-9)


def test_eos_blocks_freeze_early_finishers():
    """B < T under EOS: a chain that ends at EOS in block 0 never reaches the last block, so with many
    steps the law is F + (1 - ΣF) π_α with F(y) = π(y_{1:B})^α / Z_B on the completions with |y| ≤ B
    (block 0's target restricted to the finished ones) -- not π_α, whatever N_MCMC."""
    model = _eos_model(seed=9)
    alpha, B, T, eos = 2.0, 2, 4, 2
    target0 = mh_block_target(model, alpha, B)
    frozen = np.zeros(model.vocab_sizes)
    for y in itertools.product(*[range(v) for v in model.vocab_sizes[:B]]):
        if eos in y:
            frozen[y + (eos,) * (T - B)] = target0[y]
    want = frozen + (1.0 - frozen.sum()) * exact.power_joint(model, alpha)
    got = mh_output_distribution(model, alpha, B, 2000).probabilities
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert 0.5 * np.abs(got - exact.power_joint(model, alpha)).sum() > 0.1  # TV 0.13 on this model


def test_eos_that_is_never_drawn_changes_nothing():
    """An EOS of probability 0 leaves the law and the cost those of the same model without EOS."""
    rng = np.random.default_rng(3)
    tables = [np.log(rng.dirichlet(np.ones(3), size=(3,) * t)) for t in range(4)]
    for table in tables:
        table[..., 2] = -np.inf  # token 2 (the EOS) is never drawn
        table[...] = table - np.log(np.exp(table).sum(axis=-1, keepdims=True))
    with_eos = exact.TabularAR.from_conditionals(tables, eos_token_id=2)
    without = exact.TabularAR.from_conditionals(tables)
    for block, greedy in ((2, False), (3, True), (4, False)):
        a = mh_output_distribution(with_eos, 2.0, block, 3, greedy=greedy)
        b = mh_output_distribution(without, 2.0, block, 3, greedy=greedy)
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-14)
        assert a.expected_cost == pytest.approx(b.expected_cost, rel=1e-12) == mh_expected_cost(4, block, 3)


@settings(max_examples=10, deadline=None)
@given(
    sx.eos_models(max_vocab=3, max_horizon=3, zeros=False),
    st.sampled_from([0.5, 2.0, 4.0]),
    st.integers(0, 2),
    st.booleans(),
    st.booleans(),
    st.data(),
)
def test_property_eos_mh_matches_variable_length_brute_force(model, alpha, n_mcmc, greedy, hastings, data):
    block = data.draw(st.integers(1, model.horizon + 1))
    got = mh_output_distribution(model, alpha, block, n_mcmc, greedy=greedy, hastings=hastings)
    want, cost = brute_force_mh_eos(model, alpha, block, n_mcmc, alpha, greedy, hastings)
    np.testing.assert_allclose(got.probabilities, want, atol=1e-10, rtol=0)
    assert got.expected_cost == pytest.approx(cost, rel=1e-10)


def test_mh_errors_name_the_argument():
    """Each refusal names its argument (or table), matched from the start of the message."""
    model = exact.TabularAR.random(2, 4, seed=0)
    count = r" must be an integer >= 1, got 0$"
    with pytest.raises(ValueError, match=r"^horizon" + count):
        exact.samplers.mh_block_ends(0, 2)
    with pytest.raises(ValueError, match=r"^block_size" + count):
        exact.samplers.mh_block_ends(4, 0)
    with pytest.raises(ValueError, match=r"^block_size" + count):
        mh_output_distribution(model, 2.0, 0, 1)
    for call in (lambda: mh_output_distribution(model, 2.0, 2, -1), lambda: mh_expected_cost(4, 2, -1)):
        with pytest.raises(ValueError, match=r"^n_mcmc must be a non-negative integer, got -1$"):
            call()
    for call in (lambda: mh_output_distribution(model, 2.0, 2, 1, proposal_alpha=0.0), lambda: mh_kernel(model, 2.0, 2, proposal_alpha=0.0)):
        with pytest.raises(ValueError, match=r"^proposal_alpha must be > 0, got 0\.0$"):
            call()
    for call in (lambda: mh_kernel(model, 2.0, 0), lambda: mh_block_target(model, 2.0, 0)):
        with pytest.raises(ValueError, match=r"^length" + count):
            call()
    with pytest.raises(ValueError, match=r"^length 5 exceeds the horizon 4$"):
        mh_kernel(model, 2.0, 5)
    with exact.memory_limit(1000), pytest.raises(ValueError, match=r"^the MH transition matrix needs 256 entries \(2,048 bytes"):
        mh_kernel(model, 2.0, 4)  # 16 prefixes: the 16 x 16 kernel is over the cap, the prefix tables are not


def _brute_kernel(model, alpha, L, beta, greedy, hastings):
    """One MH step over the padded prefixes of length L from the variable-length move (_mh_step); rows of
    π(y_{1:L}) = 0 left as NaN."""
    c = _Completions(model)
    sizes = model.vocab_sizes[:L]
    pad = lambda y: np.ravel_multi_index(tuple(y) + (c.eos,) * (L - len(y)), sizes)  # noqa: E731
    K = np.full((math.prod(sizes),) * 2, np.nan)
    for y in c.continuations((), L):
        if c.prop((), y, 1.0) == 0:
            continue
        K[pad(y)] = 0.0
        for y2, p in _mh_step(c, y, L, alpha, beta, greedy, hastings)[0].items():
            K[pad(y), pad(y2)] += p
    return K


@pytest.mark.parametrize(
    "eos, L, beta, greedy, hastings",
    [(None, 3, 1.0, False, True), (None, 2, 0.5, False, True), (None, 3, None, True, True), (2, 3, 1.5, False, True), (2, 3, None, False, False), (2, 2, None, True, True)],
)
def test_kernel_matches_a_brute_force_step(eos, L, beta, greedy, hastings):
    """``mh_kernel`` entry by entry (the proposal at temperature 1/proposal_alpha, EOS, Power(∞), no Hastings
    factor) against the explicit enumeration of moves, on every state of positive probability."""
    model = exact.TabularAR.random(3, 3, seed=L, eos_token_id=eos)
    alpha = 2.5
    K = mh_kernel(model, alpha, L, proposal_alpha=beta, greedy=greedy, hastings=hastings)
    want = _brute_kernel(model, alpha, L, alpha if beta is None else beta, greedy, hastings)
    rows = ~np.isnan(want[:, 0])
    assert rows.sum() >= 7
    np.testing.assert_allclose(K[rows], want[rows], atol=1e-13, rtol=0)


def test_power_infinity_ties_are_within_the_log_tolerance():
    """Probabilities 3e-10 apart in relative terms (log gap < GREEDY_TIE_LOG_TOL = 1e-9) are ties for Power(∞)
    whatever α: the law is that of the exactly tied model up to the 1e-10 change of the proposal.  Accepting
    those moves (comparing α log π, i.e. a tolerance of 1e-9/α) changes it by ~0.05."""
    near = np.array([[0.1, 0.3 * (1 + 3e-10)], [0.3, 0.3 * (1 - 3e-10)]])
    for block in (1, 2):
        tied = mh_output_distribution(exact.TabularAR.from_joint(TIED), 4.0, block, 2, greedy=True).probabilities
        got = mh_output_distribution(exact.TabularAR.from_joint(near / near.sum()), 4.0, block, 2, greedy=True)
        np.testing.assert_allclose(got.probabilities, tied, atol=1e-8, rtol=0)
        assert got.standard_errors.shape == tied.shape and not got.standard_errors.any()


def test_power_infinity_law_has_no_negative_entry_when_the_rejected_mass_rounds_below_zero():
    """One Power(∞) step on one token, α = β = 1, so ``q = π``: from ``y`` the chain moves to each strictly
    likelier ``y'`` with probability ``q(y')``, so ``P_1(y) = q(y)(1 − Σ_{π(y') > π(y)} q(y')) + q(y) Σ_{π(x) < π(y)} q(x)``.
    The least likely sequence (``π = 1e-20``) keeps ``1 − Σ_{y'≠y} q(y') = 1e-20`` of its mass in exact arithmetic; in
    float64 that sum rounds to ``1 + 2⁻⁵²``, so the kernel's diagonal is ``−2.2e-16`` and only the final clip keeps the
    law non-negative (closed form to 1e-15)."""
    joint = np.array([1e-20, 0.1, 0.3, 0.6])
    got = mh_output_distribution(exact.TabularAR.from_joint(joint), 1.0, 1, 1, greedy=True).probabilities
    q = joint / joint.sum()
    want = np.array([q[y] * (1 - q[q > q[y]].sum()) + q[y] * q[q < q[y]].sum() for y in range(4)])
    assert (got >= 0).all(), got
    np.testing.assert_allclose(got, want, atol=1e-15, rtol=0)


def test_a_huge_number_of_steps_still_gives_a_normalised_law():
    """``N_MCMC = 10^12`` with ``B = T``: the law is ``π_α`` (the last block's target, full support) and sums to 1.
    ``matrix_power`` takes 40 squarings, each doubling the relative rounding of the kernel's row sums, so
    ``Σ P K^N`` drifts from 1 by ~1e-4 before the final division by the total; multiplying by it instead leaves
    the law summing to ``1 - 2e-4``."""
    model = exact.TabularAR.random((2, 3), seed=3)
    got = mh_output_distribution(model, 2.0, 2, 10**12).probabilities
    assert got.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(got, exact.power_joint(model, 2.0), atol=1e-12, rtol=0)


def test_kernel_from_tables_defaults_are_the_mh_step_with_the_hastings_factor():
    """``mh_kernel_from_tables`` called with tables and lengths only: ``greedy=False`` and ``hastings=True`` by default,
    i.e. the explicit enumeration of one MH step with the factor ``|y|/|y'|`` (under EOS, where it matters)."""
    model = exact.TabularAR.random(3, 3, seed=3, eos_token_id=2)
    alpha, L = 2.5, 3
    marginals = prefix_marginal_tables(model)
    lengths = completion_lengths(np.moveaxis(np.indices(model.vocab_sizes[:L]), 0, -1), 2)
    K = mh_kernel_from_tables(marginals[L], temperature_prefix_tables(marginals, alpha)[: L + 1], alpha, lengths=lengths)
    want = _brute_kernel(model, alpha, L, alpha, False, True)
    rows = ~np.isnan(want[:, 0])
    assert rows.sum() >= 7
    np.testing.assert_allclose(K[rows], want[rows], atol=1e-13, rtol=0)
