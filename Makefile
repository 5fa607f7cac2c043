# The two commands: `make up` runs the platform, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test test-repeat test-random mutate lint install clean

$(STAMP): pyproject.toml requirements.lock requirements-no-deps.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps -r requirements-no-deps.txt
	$(BIN)/python -m router.graphiql
	touch $(STAMP)

install: $(STAMP)

up: $(STAMP)
	$(BIN)/vetrai up

# GraphiQL is tested in a real browser: Debian's chromium, installed when missing.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get install -y -qq chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

# The suite on every core (pytest-xdist): each worker process has its own embedded servers and
# database; TEST_WORKERS=0 runs it in this process alone.
TEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

test: $(STAMP) $(CHROMIUM)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(PYTEST)

# The suite N times in a row (`make test-repeat N=20`), stopping at the first failing run: a
# flake shows here, to be fixed at its cause.
N ?= 5
test-repeat: $(STAMP) $(CHROMIUM)
	for run in $$(seq $(N)); do echo "run $$run of $(N)"; $(PYTEST) -q || exit 1; done

# The suite in a random order, to find tests that depend on others; SEED=N replays an order.
test-random: $(STAMP) $(CHROMIUM)
	seed=$${SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	echo "random order, seed $$seed (replay: make test-random SEED=$$seed)"; \
	$(PYTEST) -p randomly --randomly-seed=$$seed

# Mutation testing of one module: `make mutate MODULE=subgraphs/keys/service.py [JOBS=2]`.
mutate: $(STAMP)
	$(BIN)/python tools/mutate.py $(MODULE) $(if $(JOBS),--jobs $(JOBS))

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/mypy .

clean:
	rm -rf $(VENV) .data
