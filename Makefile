# Two commands do all the set-up: `make run` and `make test`.
# Both create .venv when missing and install what changed; a second call skips what is installed.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
VENDOR  := static/vendor
VSTAMP  := $(VENDOR)/.installed

.PHONY: run test test-fast bench bench-server soak lint screenshots load-test clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

# Reinstall only when the dependency lists change.
$(STAMP): requirements.txt requirements-nodeps.txt | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

# bertviz's scripts (require.js, d3, jQuery), from the npm packages pinned in package.json, copied
# to static/vendor/ (gitignored) which Streamlit serves at /app/static/vendor/. Without npm the app
# still runs: the embedded bertviz views then load them from the CDN and say so.
$(VSTAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  (npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && \
	   mkdir -p $(VENDOR) && \
	   cp node_modules/requirejs/require.js node_modules/d3/dist/d3.min.js \
	      node_modules/jquery/dist/jquery.min.js node_modules/jquery/dist/jquery.min.map $(VENDOR)/ && \
	   touch $@) || echo "npm ci failed: bertviz's views will load their scripts from a CDN (rerun make to retry)"; \
	else echo "npm not found: bertviz's views will load their scripts from a CDN (install Node.js and npm, then rerun make)"; fi

run: $(STAMP) $(VSTAMP)
	HF_HUB_OFFLINE=1 $(BIN)/streamlit run app.py --server.address=localhost --server.port=8501

test: $(STAMP) $(VSTAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow and not browser"

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m viz.bench

# Server CPU per browser interaction (docs/capacity.md). Several configs are measured in turns in
# one run, e.g. make bench-server SERVER_CONFIGS="before shipped" (see benchmarks/interaction_cost.py).
SERVER_CONFIGS ?= before shipped
bench-server: $(STAMP) $(VSTAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.interaction_cost --config $(SERVER_CONFIGS)

# The server's resident memory over 500 interactions on the text page.
soak: $(STAMP) $(VSTAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.soak --interactions 500

lint: $(STAMP)
	$(BIN)/ruff check .

# Retake the README's screenshots in headless chromium.
screenshots: $(STAMP) $(VSTAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.browser.screenshots docs/img

# A classroom at once (not part of make test): N browser sessions against one server.
SESSIONS ?= 10
LOAD_PAGE ?= text
load-test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.load.classroom --sessions $(SESSIONS) --page $(LOAD_PAGE)

clean:
	rm -rf $(VENV) .pytest_cache node_modules $(VENDOR)
