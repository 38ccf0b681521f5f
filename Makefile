# The two commands of the README: `make run` and `make test`. Each installs what it needs
# (a virtual environment in .venv, system packages through apt when missing) so that a
# fresh clone works with no other step and no standard input.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# reinstall when the dependency list or this file changes
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SHARED ?= ../shared/data/pairwise
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install run test lint typecheck unit perf clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

## run: rate the real Chatbot Arena votes in ../shared and write the leaderboard to data/
run: install
	@mkdir -p data
	$(BIN)/arena leaderboard $(SHARED)/chatbotarena_20240814_paircounts.csv \
		--anchor mixtral-8x7b-instruct-v0.1=1114 --output data/leaderboard.csv \
		--plot data/leaderboard.png --heatmap data/winrate.png
	$(BIN)/arena leaderboard $(SHARED)/chatbotarena_20240814_paircounts.csv \
		--anchor mixtral-8x7b-instruct-v0.1=1114 --format md | head -25

## test: lint, type-check and run every test
test: install lint typecheck unit

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest -q

## perf: install the peers and run the ratings benchmark (figures into perf/RESULTS.md)
perf: install
	$(BIN)/pip install -q -r perf/requirements-peers.txt
	$(BIN)/python perf/bench_ratings.py --write-results

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
