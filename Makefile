# Two commands do all the set-up: `make run` and `make test`.
# Both create .venv when missing and install what changed; a second call skips what is installed.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: run test test-fast bench lint screenshots load-test clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Reinstall only when the dependency lists change.
$(STAMP): requirements.txt requirements-nodeps.txt | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/streamlit run app.py --server.address=localhost --server.port=8501

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow and not browser"

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m viz.bench

lint: $(STAMP)
	$(BIN)/ruff check .

# Retake the README's screenshots in headless chromium.
screenshots: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.browser.screenshots docs/img

# A classroom at once (not part of make test): N browser sessions against one server.
SESSIONS ?= 10
LOAD_PAGE ?= scratch
load-test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.load.classroom --sessions $(SESSIONS) --page $(LOAD_PAGE)

clean:
	rm -rf $(VENV) .pytest_cache
