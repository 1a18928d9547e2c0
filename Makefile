# Two commands do all the set-up: `make run` and `make test`.
# Both create .venv when missing and install what changed; a second call skips what is installed.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
VENDOR  := static/vendor
VSTAMP  := $(VENDOR)/.installed

.PHONY: run test test-fast bench bench-image bench-server soak lint screenshots load-test load load-class load-table serve clean

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
	HF_HUB_OFFLINE=1 $(BIN)/streamlit run server.py --server.address=localhost --server.port=8501

# Two workers (pytest-xdist), a test file each at a time (a file's tests share its server and
# fixtures): much of the suite's time is waiting (a browser for a rerun, a server for a model),
# which the other worker fills. docs/benchmarks.md has the times.
test: $(STAMP) $(VSTAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -n 2 --dist loadfile

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -m "not slow and not browser"

# Every benchmark is a module of benchmarks/, run as python -m benchmarks.<name>.
# The text trace's table and the image rows, printed for docs/benchmarks.md.
bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.text_trace

# The image page's trace and views, and the bytes each view sends (prints only).
bench-image: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m benchmarks.image_trace

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

# Simultaneous submitters without browsers (not part of make test): Locust users that speak
# Streamlit's websocket protocol (tests/load/). One markdown row per interaction.
#   make load USERS=30 PAGE=scratch    make load USERS=30 REPLICAS=2    make load USERS=30 PAGE=scratch TRAINER=1
#   make load USERS=30 PAGE=text FINETUNER=1   (one session fine-tunes BERT meanwhile)
#   make load USERS=30 PAGE=text DECODER_TRAINER=1 TRAIN_STEPS=1500   (one session trains a decoder)
USERS ?= 5
PAGE ?= text
ROUNDS ?= 3
LOAD_ARGS = --page $(PAGE) --users $(USERS) --rounds $(ROUNDS) $(if $(REPLICAS),--replicas $(REPLICAS)) $(if $(TRAINER),--trainer) $(if $(FINETUNER),--finetuner) $(if $(DECODER_TRAINER),--decoder-trainer) $(if $(TRAIN_STEPS),--train-steps $(TRAIN_STEPS))
load: $(STAMP)
	@$(if $(REPLICAS),$(HAPROXY_CHECK))
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.load.run $(LOAD_ARGS)

# A class following the teacher (not part of make test): STUDENTS sessions join the teacher's class
# and follow STEPS steps; prints the follow latency and the server's CPU (docs/capacity.md).
# THINK=S: students answer S seconds after they see a question (default 0: at once, the worst case).
#   make load-class STUDENTS=30 STEPS=10    make load-class STUDENTS=30 REPLICAS=2 THINK=2
STUDENTS ?= 30
STEPS ?= 10
load-class: $(STAMP)
	@$(if $(REPLICAS),$(HAPROXY_CHECK))
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.load.class_follow --students $(STUDENTS) --steps $(STEPS) $(if $(REPLICAS),--replicas $(REPLICAS)) $(if $(THINK),--think $(THINK))

# docs/capacity.md's table, one command: every row on a fresh server (about 20 minutes).
load-table: $(STAMP)
	@$(HAPROXY_CHECK)
	@cat /proc/loadavg
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.load.run --page text --users 1,5,10,30,60
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.load.run --no-header --page scratch --users 1,5,10,30,60
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.load.run --no-header --page scratch --users 30 --trainer
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.load.run --no-header --page text --users 30 --replicas 1
	HF_HUB_OFFLINE=1 $(BIN)/python -m tests.load.run --no-header --page text --users 30 --replicas 2
	@cat /proc/loadavg

# Several replicas behind HAProxy (deploy/serve.py, deploy/haproxy.cfg): sticky sessions by
# cookie, one shared cookie secret, health checks. Open http://127.0.0.1:$(SERVE_PORT); Ctrl+C stops all.
REPLICAS_SERVE ?= 2
SERVE_PORT ?= 8500
HAPROXY_CHECK = command -v haproxy >/dev/null 2>&1 || test -x /usr/sbin/haproxy || \
	{ echo "haproxy not found: install Debian's package (sudo apt-get install haproxy) to run replicas behind it." >&2; exit 2; }
serve: $(STAMP) $(VSTAMP)
	@$(HAPROXY_CHECK)
	HF_HUB_OFFLINE=1 $(BIN)/python -m deploy.serve --replicas $(or $(REPLICAS),$(REPLICAS_SERVE)) --port $(SERVE_PORT)

clean:
	rm -rf $(VENV) .pytest_cache node_modules $(VENDOR)
