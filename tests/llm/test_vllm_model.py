"""``llm.VLLMModel`` against the Hugging Face backend on the same tiny Llama (``vllm_tiny`` in conftest).

The reference is an independent implementation of the same network: transformers' own
forward (``llm.HFModel``, float32) on the weights vLLM loads from disk, computed in the main
environment (tests/llm/vllm_reference.py) and looked up here.  The tests marked ``vllm`` run
in vLLM's own environment (``make test-vllm``); in the main one they are skipped and only the
install message is checked.
"""

import itertools

import numpy as np
import pytest
import torch

import llm

TOL = 1e-5  # float32 log-probs from two implementations (kernels and summation order differ)


def _vllm_installed() -> bool:
    try:
        import vllm  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


@pytest.mark.skipif(_vllm_installed(), reason="vLLM is installed here: the install message is for environments without it")
def test_without_vllm_the_error_says_how_to_install_it():
    with pytest.raises(ImportError, match=r"make test-vllm.*pip install '\.\[vllm\]'"):
        llm.VLLMModel("any-directory")
    with pytest.raises(ImportError, match="make test-vllm"):
        llm.load_engine("vllm")


def test_load_engine_rejects_an_unknown_engine():
    with pytest.raises(ValueError, match="'hf' or 'vllm'"):
        llm.load_engine("tgi")


def _all_contexts(reference):
    """The prompt followed by every sequence of fewer than T tokens."""
    V, T = reference.vocab_size, reference.horizon_tokens
    return [reference.prompt + list(p) for t in range(T) for p in itertools.product(range(V), repeat=t)]


@pytest.mark.vllm
def test_enumerated_law_and_every_conditional_match_the_hf_backend(vllm_tiny):
    """``enumerate_exact`` through vLLM gives the HF backend's exact law; next-token log-probs agree to 1e-5."""
    hf, exact_model, engine = vllm_tiny
    assert isinstance(engine, llm.LanguageModel)
    assert (engine.vocab_size, engine.eos_token_id, engine.horizon) == (3, hf.eos_token_id, None)
    np.testing.assert_allclose(exact_model.joint().ravel(), hf.joint, atol=TOL)  # HFModel again (other batching)
    contexts = _all_contexts(hf)
    ours, reference = engine.next_token_logprobs(contexts), hf.next_token_logprobs(contexts)
    assert ours.shape == reference.shape == (len(contexts), 3) and ours.dtype == torch.float64
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), atol=TOL)
    table = llm.enumerate_exact(engine, hf.prompt, range(3), hf.horizon_tokens)
    np.testing.assert_allclose(table.joint(), exact_model.joint(), atol=TOL)
    assert table.eos_token_id == exact_model.eos_token_id == 2


@pytest.mark.vllm
def test_scores_of_every_completion_match_the_hf_backend(vllm_tiny):
    """``score`` (``prompt_logprobs``) of all V^T completions, one batch, against the HF backend's."""
    hf, _, engine = vllm_tiny
    completions = [list(c) for c in itertools.product(range(3), repeat=hf.horizon_tokens)] + [[], [2], [0, 2]]
    prompts = [hf.prompt] * len(completions)
    ours, reference = engine.score(prompts, completions), hf.score(prompts, completions)
    for completion, a, b in zip(completions, ours, reference):
        assert a.shape == (len(completion),) and a.dtype == torch.float64
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOL)
    with pytest.raises(ValueError, match="2 prompts but 1"):
        engine.score([[0], [0]], [[1]])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        engine.next_token_logprobs([[0, 7]])
    with pytest.raises(ValueError, match="BOS"):
        engine.next_token_logprobs([[]])


@pytest.mark.vllm
def test_decode_state_and_ragged_batch_track_their_contexts(vllm_tiny):
    """append / truncate / fork / select / ragged put-take give the log-probs of the contexts they claim."""
    hf, _, engine = vllm_tiny
    prompt = hf.prompt
    direct = hf.next_token_logprobs
    state = engine.start([prompt, prompt + [1]])
    np.testing.assert_allclose(state.logprobs().numpy(), direct([prompt, prompt + [1]]).numpy(), atol=TOL)
    state.append(torch.tensor([[0, 1], [1, 0]]))
    assert state.length == 2 and state.completion().tolist() == [[0, 1], [1, 0]]
    np.testing.assert_allclose(state.logprobs().numpy(), direct([prompt + [0, 1], prompt + [1, 1, 0]]).numpy(), atol=TOL)
    fork = state.fork([1, 1, 0], length=1)
    assert fork.batch_size == 3 and fork.completion().tolist() == [[1], [1], [0]]
    np.testing.assert_allclose(fork.logprobs().numpy(), direct([prompt + [1, 1]] * 2 + [prompt + [0]]).numpy(), atol=TOL)
    state.truncate(1)
    assert state.completion().tolist() == [[0], [1]]  # the fork did not share rows with its parent
    state.select([1])
    np.testing.assert_allclose(state.logprobs().numpy(), direct([prompt + [1, 1]]).numpy(), atol=TOL)
    batch = engine.ragged_batch()
    batch.put(None, engine.start([prompt]))
    batch.put(None, fork.fork([0]))
    batch.append(torch.tensor([2, 0]))
    np.testing.assert_allclose(batch.logprobs().numpy(), direct([prompt + [2], prompt + [1, 1, 0]]).numpy(), atol=TOL)
    taken = batch.take(1)
    assert taken.length == 2 and taken.completion().tolist() == [[1, 0]]
    batch.drop([0])
    assert batch.batch_size == 1
    with pytest.raises(ValueError, match="truncate"):
        state.truncate(5)


@pytest.mark.vllm
def test_the_counter_counts_engine_calls(vllm_tiny):
    hf, _, engine = vllm_tiny
    calls, tokens = engine.counter.snapshot()
    engine.next_token_logprobs([hf.prompt] * 4)
    after = engine.counter.snapshot()
    assert after[0] == calls + 1 and tokens < after[1] <= tokens + 4


@pytest.mark.vllm
@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_extend_samples_natively_and_reports_raw_and_processed_logprobs(vllm_tiny, temperature):
    """``extend`` (one ``generate`` call, plus one scoring call at τ ≠ 1): rows stop at EOS (kept); ``raw`` is the
    HF backend's score of the sampled tokens; ``processed`` its next-token row tempered by hand; the same
    per-row seeds give the same tokens; ``top_k`` lists the HF row's most probable tokens."""
    hf, _, engine = vllm_tiny
    prompt, eos, T = hf.prompt, hf.eos_token_id, hf.horizon_tokens
    generators = lambda: [torch.Generator().manual_seed(i) for i in range(24)]  # noqa: E731
    calls = engine.counter.calls
    out = engine.extend(engine.start([prompt] * 24), T, generators(), temperature)
    assert engine.counter.calls == calls + (1 if temperature == 1.0 else 2)
    assert any(eos in row for row in out.tokens.tolist())
    for row, raw, processed, finished in zip(out.tokens.tolist(), out.raw, out.processed, out.finished.tolist()):
        end = row.index(eos) + 1 if eos in row else len(row)
        assert finished == (eos in row) and all(t == eos for t in row[end:])
        np.testing.assert_allclose(raw[:end].numpy(), hf.score([prompt], [row[:end]])[0].numpy(), atol=TOL)
        for t in range(end):
            tempered = torch.log_softmax(hf.next_token_logprobs([prompt + row[:t]])[0] / temperature, 0)
            assert float(processed[t]) == pytest.approx(float(tempered[row[t]]), abs=TOL)
    again = engine.extend(engine.start([prompt] * 24), T, generators(), temperature)
    assert torch.equal(again.tokens, out.tokens)
    state = engine.start([prompt, prompt])
    state.append(torch.tensor([0, 1]))
    for context, top in zip([prompt + [0], prompt + [1]], engine.top_k(state, 2)):
        row = hf.next_token_logprobs([context])[0]
        expected = [int(i) for i in np.argsort(-row.numpy(), kind="stable")][:2]
        assert top.tokens.tolist() == expected
        np.testing.assert_allclose(top.logprobs.numpy(), row[expected].numpy(), atol=TOL)
