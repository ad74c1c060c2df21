"""The power-distilled student and RandW on the vLLM engine (Algorithm 1 of arXiv 2605.04542, end to end).

On the tiny Llama of ``vllm_tiny`` (conftest; its engine runs with LoRA enabled): a teacher set
drawn by power sampling (MH) on the vLLM engine, a LoRA student trained from it by ``distill``
(on the engine's transformers twin), then the student (a LoRA view of the SAME engine) and RandW
(ONE more engine, the only one this file starts) loaded through ``load_model`` exactly as the
command line does.  The reference is transformers' own forward of the same weights
(``llm.HFModel``, float32, in this process: the adapter merged by PEFT; RandW drawn from the
same seed): every log-prob the engine reports -- next-token, scores, top-K and the sampled
tokens' log-probs that ``extend``/``serve`` return to the samplers -- agrees to float32 tolerance.
"""

import itertools
import json

import numpy as np
import pytest
import torch

import llm
from llm.experiments.distill import LORA_TARGETS
from llm.vllm import LORA_RANKS, lora_engine_args, read_adapter

TOL = 1e-5  # float32 log-probs from two implementations (as in test_vllm_model.py)
RTOL = 1e-5  # the student's: vLLM adds the LoRA unmerged, x W + s (x A) B, transformers merged, x (W + s B A)
SEED = 3  # RandW's seed


# -- LoRA engine arguments (no engine) -------------------------------------------------------------------


def _adapter(path, r, rank_pattern=None, targets=("q_proj", "v_proj")):
    path.mkdir()
    config = {"peft_type": "LORA", "r": r, "rank_pattern": rank_pattern or {}, "target_modules": list(targets)}
    (path / "adapter_config.json").write_text(json.dumps(config))
    return path


def test_lora_engine_args_round_up_to_a_rank_vllm_serves_and_never_wrap_the_output_head(tmp_path):
    small, odd = _adapter(tmp_path / "a", 4), _adapter(tmp_path / "b", 8, {"q_proj": 24}, ["q_proj", "fc1"])
    assert read_adapter(odd).rank == 24 and read_adapter(odd).targets == {"q_proj", "fc1"}
    paper = sorted(LORA_TARGETS)
    assert lora_engine_args([small]) == {"enable_lora": True, "max_lora_rank": 16, "lora_target_modules": paper}
    assert lora_engine_args([small, odd], {"seed": 0}) == {
        "seed": 0, "enable_lora": True, "max_lora_rank": 32, "lora_target_modules": sorted({*paper, "fc1"})}
    assert lora_engine_args([small], {"max_lora_rank": 8})["max_lora_rank"] == 8
    assert set(LORA_RANKS) >= {lora_engine_args([_adapter(tmp_path / f"r{r}", r)])["max_lora_rank"] for r in (1, 100, 512)}
    with pytest.raises(ValueError, match="exceeds the largest rank vLLM serves"):
        lora_engine_args([_adapter(tmp_path / "huge", 513)])
    with pytest.raises(ValueError, match="lm_head is not served on vLLM"):
        lora_engine_args([_adapter(tmp_path / "head", 8, targets=["q_proj", "lm_head"])])
    with pytest.raises(ValueError, match="no adapter_config.json"):
        read_adapter(tmp_path)


class _FakeLLM:
    """``vllm.LLM`` as far as :class:`llm.VLLMModel` uses it (V = 3): uniform log-probs, every request recorded."""

    started: list = []

    def __init__(self, model, **args):
        from types import SimpleNamespace

        lora = SimpleNamespace(max_lora_rank=args["max_lora_rank"], target_modules=args["lora_target_modules"]) if args.get("enable_lora") else None
        self.requests, self.args = [], args
        self.llm_engine = SimpleNamespace(
            model_config=SimpleNamespace(get_vocab_size=lambda: 3), vllm_config=SimpleNamespace(lora_config=lora),
            engine_core=SimpleNamespace(shutdown=lambda: None),
        )
        _FakeLLM.started.append(self)

    def get_tokenizer(self):
        raise RuntimeError("token ids only")

    def generate(self, prompts, params, use_tqdm=False, lora_request=None):
        from types import SimpleNamespace

        self.requests.append(lora_request)
        entry = {t: SimpleNamespace(logprob=-1.0986) for t in range(3)}
        rows = [p["prompt_token_ids"] for p in prompts]
        return [SimpleNamespace(outputs=[SimpleNamespace(logprobs=[entry], token_ids=[0])], prompt_logprobs=[None] + [entry] * (len(r) - 1),
                                num_cached_tokens=0) for r in rows]


def test_with_adapter_restarts_an_engine_without_lora_and_sends_the_adapter_with_every_call(tmp_path, monkeypatch):
    """No vLLM needed: a fake engine records the ``lora_request`` of every ``generate`` call."""
    import sys
    from types import ModuleType, SimpleNamespace

    import llm.vllm

    fake = ModuleType("vllm")
    fake.LLM, fake.SamplingParams = _FakeLLM, lambda **kwargs: SimpleNamespace(**kwargs)
    request = ModuleType("vllm.lora.request")
    request.LoRARequest = lambda name, number, path: (name, number, path)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    monkeypatch.setattr(llm.vllm, "_import_vllm", lambda: fake)
    monkeypatch.setattr(_FakeLLM, "started", [])
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 3, "eos_token_id": 2}))
    base = llm.VLLMModel(str(model_dir), seed=0)
    adapter = _adapter(tmp_path / "adapter", 24)
    student = base.with_adapter(adapter)
    first, second = _FakeLLM.started
    assert "enable_lora" not in first.args
    assert second.args == {**first.args, "enable_lora": True, "max_lora_rank": 32, "lora_target_modules": sorted(LORA_TARGETS)}
    assert student.engine is base.engine is second and base.with_adapter(adapter).engine is second  # no second restart
    lora = (str(adapter.resolve()), 1, str(adapter.resolve()))
    calls = [lambda m: m.next_token_logprobs([[0]]), lambda m: m.score([[0]], [[1]]), lambda m: m.top_k(m.start([[0]]), 2),
             lambda m: m.extend(m.start([[0]]), 1, torch.Generator().manual_seed(0))]
    for call in calls:
        call(student)
        call(base)
    assert second.requests == [lora, None] * len(calls)
    student.close()  # a view: the base's engine keeps running
    assert base.engine is second
    assert base.sibling(tmp_path / "model").engine.args == first.args  # RandW's engine: no LoRA
    monkeypatch.setattr(llm.vllm, "default_hf_dir", lambda: model_dir)
    default = llm.VLLMModel()  # the default model runs in float32 (vLLM's "auto" would cast it to bfloat16) ...
    assert default.engine.args["dtype"] == "float32" and default.sibling(model_dir).engine.args["dtype"] == "float32"  # ... and so does its RandW
    with pytest.raises(ValueError, match="LoRA view"):
        student.hf_twin()


# -- on the engine ---------------------------------------------------------------------------------------


def _contexts(prompt, vocab_size, horizon):
    return [prompt + list(p) for t in range(horizon) for p in itertools.product(range(vocab_size), repeat=t)]


@pytest.fixture(scope="module")
def pipeline(vllm_tiny, tmp_path_factory):
    """Teacher (power-MH on vLLM) -> ``distill`` (vLLM base) -> student and RandW via ``load_model``, and HF twins."""
    from llm.experiments.cli import load_model
    from llm.experiments.distill import DistillConfig, distill
    from llm.experiments.evaluate import random_init_copy, randw_dir

    reference, _, engine = vllm_tiny
    out = tmp_path_factory.mktemp("students")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POWER_TOOLKIT_CACHE", str(out / "cache"))
        prompt, T = reference.prompt, reference.horizon_tokens
        teacher = llm.sample_power_mh(engine, prompt, 16, 4.0, torch.Generator().manual_seed(0), T, 2, max_new_tokens=T,
                                      progress=False)
        records = [{"prompt_tokens": prompt, "tokens": tokens} for tokens in teacher.tokens]
        config = DistillConfig(max_steps=4, grad_accum=1, learning_rate=0.02, lora_r=8, seed=0, use_cpu=True)
        trained = distill(records, out / "student", engine, config)
        running = engine.engine
        student = load_model(str(out / "student"), base=engine, engine="vllm")
        assert engine.engine is running  # the LoRA view shares the engine; no restart (rank 8 fits)
        randw = load_model(f"randw:{SEED}", base=engine, engine="vllm")
        hf_base = llm.HFModel(engine.path)
        yield {
            "reference": reference, "engine": engine, "student": student, "randw": randw, "trained": trained,
            "hf_student": llm.HFModel(engine.path, adapter=out / "student"), "hf_randw": random_init_copy(hf_base, SEED),
            "hf_base": hf_base, "randw_dir": randw_dir(engine, SEED), "contexts": _contexts(prompt, reference.vocab_size, T),
        }
        randw.close()


@pytest.mark.vllm
def test_the_distilled_student_on_the_base_engine_is_the_merged_student(pipeline):
    engine, student, hf = pipeline["engine"], pipeline["student"], pipeline["hf_student"]
    contexts, prompt = pipeline["contexts"], pipeline["reference"].prompt
    assert json.loads((pipeline["trained"].out / "distill_config.json").read_text())["base"] == engine.path  # the HF twin
    ours, theirs = student.next_token_logprobs(contexts), hf.next_token_logprobs(contexts)
    assert (ours - engine.next_token_logprobs(contexts)).abs().max() > 0.01  # trained: not the base
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=TOL, rtol=RTOL)
    completions = [list(c) for t in (1, 2, 3) for c in itertools.product(range(3), repeat=t)]
    for a, b in zip(student.score([prompt] * len(completions), completions), hf.score([prompt] * len(completions), completions)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=TOL, rtol=RTOL)
    top = student.top_k(student.start([prompt]), 2)[0]
    np.testing.assert_allclose(top.logprobs.numpy(), theirs[0][top.tokens].numpy(), atol=TOL, rtol=RTOL)
    assert top.tokens.tolist() == torch.argsort(theirs[0], descending=True)[:2].tolist()
    student.close()  # a view closes nothing: the base's own calls still run, without the adapter
    np.testing.assert_allclose(engine.next_token_logprobs(contexts).numpy(),
                               pipeline["hf_base"].next_token_logprobs(contexts).numpy(), atol=TOL)


@pytest.mark.vllm
def test_randw_on_vllm_is_hf_randw_of_the_same_seed(pipeline):
    randw, hf, contexts = pipeline["randw"], pipeline["hf_randw"], pipeline["contexts"]
    assert randw.path == str(pipeline["randw_dir"]) and (pipeline["randw_dir"] / "tokenizer_config.json").is_file()
    ours, theirs = randw.next_token_logprobs(contexts), hf.next_token_logprobs(contexts)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=TOL)
    assert (ours - pipeline["engine"].next_token_logprobs(contexts)).abs().max() > 0.01  # not the base
    from llm.experiments.evaluate import random_init_copy

    other = random_init_copy(pipeline["hf_base"], SEED + 1).next_token_logprobs(contexts)
    assert (other - theirs).abs().max() > 0.01  # the seed decides the weights


@pytest.mark.vllm
@pytest.mark.parametrize("which", ["student", "randw"])
def test_samplers_on_the_student_and_randw_report_that_models_log_probs(pipeline, which):
    """``extend`` (standard) and ``serve`` (power-MH) carry the adapter / the RandW weights: the raw log-probs
    the samplers return are the HF twin's scores of the same tokens."""
    lm, hf, prompt = pipeline[which], pipeline[f"hf_{which}"], pipeline["reference"].prompt
    T = pipeline["reference"].horizon_tokens
    runs = [llm.sample_standard(lm, prompt, 8, torch.Generator().manual_seed(1), max_new_tokens=T),
            llm.sample_power_mh(lm, prompt, 4, 4.0, torch.Generator().manual_seed(2), 1, 2, max_new_tokens=T, progress=False)]
    for out in runs:
        assert len(out.tokens) in (8, 4) and all(1 <= len(t) <= T for t in out.tokens)
        for tokens, logprobs, scored in zip(out.tokens, out.logprobs, hf.score([prompt] * len(out.tokens), out.tokens)):
            np.testing.assert_allclose(logprobs.numpy(), scored.numpy(), atol=TOL, rtol=RTOL)
