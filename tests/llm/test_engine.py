"""The engine interface of ``llm.model`` (``extend``, ``serve``, ``top_k``), its generic implementation
``llm.stepwise.StepwiseEngine`` on the toy and on a real transformers network, and the samplers' use of it.

References come from independent routes: the full next-token rows ``next_token_logprobs``
(tempered here by hand) and ``score`` for every returned log-prob, a brute-force sort of the
exact conditional for ``top_k``, the exact joint for every method's log-probs on a backend that
has no full-vocabulary row at all (tests/llm/native_engine.py), and token lists recorded with
the samplers as they were before the interface existed (commit 0db5b8b) for "same seed, same
draws".
"""

import numpy as np
import pytest
import torch

import exact
import llm
from llm.methods import METHODS, SamplerConfig, draw
from native_engine import FullRowRead, NativeToy

EOS, T = 2, 3
TOL = 1e-5  # float32 network vs the same network scored separately


@pytest.fixture(scope="module", params=["toy", "hf"])
def model(request):
    """``(lm, prompt)``: an EOS toy, or the tiny transformers Llama of ``llm.audit`` (EOS = 2)."""
    if request.param == "toy":
        return llm.ToyModel(exact.TabularAR.random(3, 4, seed=13, eos_token_id=EOS)), []
    tiny = llm.tiny_causal_lm(vocab_size=3, horizon=T, eos_token_id=EOS, seed=0)
    return tiny.lm, list(tiny.prompt_ids)


def _tempered(lm, context, temperature):
    return torch.log_softmax(lm.next_token_logprobs([context])[0].double() / temperature, 0)


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_extend_returns_raw_and_processed_logprobs_and_stops_at_eos(model, temperature):
    lm, prompt = model
    n = 64
    state = lm.start([prompt])
    state.prefill()
    state = state.fork([0] * n)
    generators = [torch.Generator().manual_seed(i) for i in range(n)]
    out = lm.extend(state, 3, generators, temperature)
    assert out.tokens.shape == out.raw.shape == out.processed.shape and out.tokens.shape[0] == n
    assert state.length == out.tokens.shape[1]
    assert torch.equal(state.completion(), out.tokens)
    sampled = 0
    for row, raw, processed, finished in zip(out.tokens.tolist(), out.raw, out.processed, out.finished.tolist()):
        end = row.index(EOS) + 1 if EOS in row else len(row)
        assert finished == (EOS in row)
        assert all(t == EOS for t in row[end:]) and not raw[end:].any() and not processed[end:].any()  # padding
        sampled += end
        fresh = lm.score([prompt], [row[:end]])[0]
        np.testing.assert_allclose(raw[:end].numpy(), fresh.numpy(), atol=TOL)
        for t in range(end):
            assert float(processed[t]) == pytest.approx(float(_tempered(lm, prompt + row[:t], temperature)[row[t]]), abs=TOL)
        if temperature == 1.0:
            assert torch.equal(raw, processed)
    assert out.sampled == sampled
    assert any(EOS in row for row in out.tokens.tolist())  # the EOS case happens


def test_extend_respects_quotas_and_finished_rows(model):
    lm, prompt = model
    state = lm.start([prompt] * 3)
    out = lm.extend(state, 3, torch.Generator().manual_seed(0), quotas=[0, 1, 3], finished=torch.tensor([False, False, True]))
    assert out.tokens.shape[1] <= 1  # row 2 finished, row 0 has no quota: one step at most
    assert out.sampled == 1 and out.tokens[0].tolist() == [EOS] * out.tokens.shape[1] and out.tokens[2].eq(EOS).all()
    with pytest.raises(ValueError, match="generators"):
        lm.extend(lm.start([prompt] * 2), 1, [torch.Generator()])


def test_per_row_generators_make_draws_independent_of_batching(model):
    """Row ``i`` drawn with its own generator: the same tokens in a batch of 12 and on its own (τ = 2: flat
    conditionals, so rows drawn with another row's generator would differ)."""
    lm, prompt = model
    seeds = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8]
    together = lm.extend(lm.start([prompt] * len(seeds)), 3, [torch.Generator().manual_seed(s) for s in seeds], 2.0)
    for i, seed in enumerate(seeds):
        alone = lm.extend(lm.start([prompt]), 3, [torch.Generator().manual_seed(seed)], 2.0)
        width = alone.tokens.shape[1]
        assert together.tokens[i, :width].tolist() == alone.tokens[0].tolist()
        assert together.tokens[i, width:].eq(EOS).all()


def test_serve_answers_every_request_whatever_the_schedule(model):
    """Two coroutines of requests: the batched and the one-at-a-time schedules give the same replies."""
    lm, prompt = model

    def task(log):
        state = lm.start([prompt])
        state, out = yield llm.Request(state, 2)
        log.append(out.tokens[0].tolist())
        state, out = yield llm.Request(state.fork(length=0), 3)
        log.append((out.tokens[0].tolist(), out.raw[0].tolist()))

    replies = []
    for batched in (True, False):
        logs = [[], []]
        lm.serve([(task(logs[i]), torch.Generator().manual_seed(i)) for i in range(2)], 0.8, batched=batched)
        replies.append(logs)
    for batched_log, sequential_log in zip(*replies):
        assert len(batched_log) == len(sequential_log) == 2
        assert batched_log[0] == sequential_log[0] and batched_log[1][0] == sequential_log[1][0]  # the same tokens
        np.testing.assert_allclose(batched_log[1][1], sequential_log[1][1], atol=TOL)  # raw log π (float32 batching)


def test_top_k_lists_the_most_probable_next_tokens(model):
    lm, prompt = model
    state = lm.start([prompt, prompt])
    state.append(torch.tensor([0, 1]))
    rows = lm.next_token_logprobs([prompt + [0], prompt + [1]])
    for k in (1, 2, 5):
        for row, top in zip(rows, lm.top_k(state, k)):
            values = row.numpy()
            expected = [int(i) for i in np.argsort(-values, kind="stable") if np.isfinite(values[i])][:k]
            assert top.tokens.tolist() == expected
            np.testing.assert_allclose(top.logprobs.numpy(), row[expected].numpy(), atol=TOL)
    with pytest.raises(ValueError):
        lm.top_k(state, 0)


@pytest.mark.parametrize("eos", [None, EOS])
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_runs_on_a_backend_without_full_rows(method, eos):
    """No sampler reads a full-vocabulary row: each method on ``NativeToy`` (reading one raises), log-probs exact."""
    model = exact.TabularAR.random(3, 3, seed=0, eos_token_id=eos)
    lm = NativeToy(model)
    config = SamplerConfig(method, 2.0, None, block_size=1, n_mcmc=2, candidates=2, top_k=2, rollouts=2, particles=3)
    out = draw(lm, [], 6, config, torch.Generator().manual_seed(1))
    assert len(out) == 6 and out.model_calls > 0
    for tokens, logprobs in zip(out.tokens, out.logprobs):
        padded = exact.pad_completions([tokens], 3, eos) if eos is not None else np.array([tokens])
        assert float(logprobs.sum()) == pytest.approx(float(model.log_prob(padded)[0]), abs=1e-10)
    with pytest.raises(FullRowRead):
        lm.start([[]]).logprobs()


def test_estimators_run_on_a_backend_without_full_rows():
    lm = NativeToy(exact.TabularAR.random(3, 3, seed=0))
    estimate = llm.estimate_power_conditional(lm, [], 2.0, torch.Generator().manual_seed(0), top_k=2, n_rollouts=4)
    assert estimate.tokens.shape == (2,) and float(estimate.power.sum()) == pytest.approx(1.0)


#: ``draw(ToyModel(model), [], 4, SamplerConfig(method, 2.0, None, **SMALL), Generator().manual_seed(7)).tokens``
#: on ``TabularAR.random(3, 3, seed=11)`` ("toy") and ``TabularAR.random(3, 4, seed=13, eos_token_id=2)``
#: ("eos"), recorded with the samplers as they were before the engine interface (commit 0db5b8b).
SMALL = dict(block_size=1, n_mcmc=2, candidates=2, top_k=2, rollouts=2, particles=3)
RECORDED: dict[str, list[list[int]]] = {
    "toy/standard": [[1, 2, 2], [1, 1, 1], [2, 0, 0], [2, 1, 0]],
    "toy/temperature": [[2, 1, 1], [2, 1, 1], [2, 0, 1], [2, 1, 1]],
    "toy/power-mh": [[1, 0, 1], [2, 1, 1], [2, 0, 1], [2, 0, 1]],
    "toy/power-inf": [[2, 0, 1], [2, 1, 1], [2, 0, 1], [2, 1, 1]],
    "toy/power-scalable": [[2, 1, 1], [2, 1, 2], [2, 1, 1], [1, 0, 1]],
    "toy/power-smc": [[2, 1, 1], [2, 1, 1], [2, 1, 1], [1, 0, 0]],
    "toy/bon": [[1, 1, 0], [2, 0, 0], [2, 0, 1], [2, 1, 1]],
    "eos/standard": [[0, 2], [0, 2], [2], [2]],
    "eos/temperature": [[0, 2], [0, 2], [2], [2]],
    "eos/power-mh": [[0, 2], [2], [2], [2]],
    "eos/power-inf": [[2], [2], [2], [2]],
    "eos/power-scalable": [[0, 2], [2], [0, 2], [0, 2]],
    "eos/power-smc": [[0, 2], [2], [0, 0, 2], [0, 2]],
    "eos/bon": [[0, 2], [2], [2], [2]],
}
TOYS = {"toy": dict(vocab_size=3, horizon=3, seed=11), "eos": dict(vocab_size=3, horizon=4, seed=13, eos_token_id=2)}


@pytest.mark.parametrize("toy", list(TOYS))
@pytest.mark.parametrize("method", list(METHODS))
def test_same_seed_same_draws_as_before_the_interface(method, toy):
    lm = llm.ToyModel(exact.TabularAR.random(**TOYS[toy]))
    out = draw(lm, [], 4, SamplerConfig(method, 2.0, None, **SMALL), torch.Generator().manual_seed(7))
    assert out.tokens == RECORDED[f"{toy}/{method}"]
