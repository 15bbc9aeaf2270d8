# Gatehouse: `make run` starts it locally, `make test` runs the suite (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP_VERSION := 26.3

.PHONY: run manage test test-fast lint lock format bench-sync bench-notify bench-api bench-frontend bench-burst bench-import soak soak-short clean

# Re-installs only when pyproject.toml or the lock changes, so a second run starts at once.
# Versions come from constraints.txt (the lock). PYTHONWARNINGS silences setuptools' box
# about editable installs, which --quiet does not.
PIP_INSTALL := PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet --disable-pip-version-check
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) 'pip==$(PIP_VERSION)'
	$(PIP_INSTALL) -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The console's lint and format tools (package.json; the console itself has no build step
# and no dependencies), installed exactly as package-lock.json says, again only when it changes.
NODE_STAMP := node_modules/.installed
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Re-resolve every dependency to its newest allowed version and rewrite the lock.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet 'pip==$(PIP_VERSION)'
	PYTHONWARNINGS=ignore .venv-lock/bin/python -m pip install --quiet -e '.[dev]'
	{ head -2 constraints.txt; .venv-lock/bin/python -m pip freeze --exclude-editable; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .venv-lock

# The local stack's settings: development mode, loopback allowed, the local edge's name.
# Django still runs in its production `cloudfront` client-IP mode behind the local edge.
# No second factor required in the demo: `make run GATEHOUSE_REQUIRE_MFA=editors` (or "all")
# turns it on (production's default is "editors").
GATEHOUSE_REQUIRE_MFA ?= off
LOCAL_ENV := DJANGO_DEBUG=true GATEHOUSE_ALLOW_PRIVATE_RANGES=true \
	GATEHOUSE_EDGE_NAME=gatehouse-local GATEHOUSE_CLIENT_IP_SOURCE=cloudfront \
	GATEHOUSE_REQUIRE_MFA=$(GATEHOUSE_REQUIRE_MFA)

# The whole edge on this machine: AWS stand-in, provisioning, local CloudFront + WAF, Django.
run: $(STAMP)
	$(LOCAL_ENV) $(BIN)/python manage.py runlocal

# A manage.py command against the running local stack (and only it), from another terminal:
#   make manage ARGS='sync_waf --dry-run'
# It loads var/local.env, which `make run` writes while it is up and removes when it stops.
LOCAL_ENV_FILE ?= var/local.env
manage: $(STAMP)
	@test -f $(LOCAL_ENV_FILE) || { echo "$(LOCAL_ENV_FILE) is missing: start the local stack first (make run) and keep it running." >&2; exit 1; }
	@unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN && set -a && . $(abspath $(LOCAL_ENV_FILE)) && set +a && $(BIN)/python manage.py $(ARGS)

# pytest rewrites the asserts of every module in its plugins' packages (hypothesis,
# schemathesis, ...) and caches the result as bytecode: with PYTHONDONTWRITEBYTECODE set,
# every process redoes it (~2 s each), so the test targets unset it (the caches go to the
# usual, ignored __pycache__ directories).
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

test: $(STAMP)
	$(PYTEST) $(PYTEST_ARGS)

# The edit-run loop: everything but the browser, end-to-end and soak tests, on two
# processes (pytest-xdist; each module stays on one, so its module-scoped fixtures are
# made once). CI runs `make test`, which has them all.
test-fast: $(STAMP)
	$(PYTEST) -m 'not browser and not e2e and not soak' \
		-n 2 --dist loadfile -p no:cacheprovider --hypothesis-profile=dev $(PYTEST_ARGS)

# mypy loads the settings through django-stubs' plugin, and they refuse to load without a
# signing key: this one exists only for the type checker's process. Cache: .mypy_cache/.
MYPY := DJANGO_SECRET_KEY=mypy-type-check-only-not-a-secret $(BIN)/mypy
NODE_BIN := node_modules/.bin
ESLINT := $(NODE_BIN)/eslint --cache --cache-location node_modules/.cache/eslint/
PRETTIER := $(NODE_BIN)/prettier --cache --log-level warn
# What ESLint and Prettier look at (named, so neither walks .venv/).
JS_PATHS := frontend eslint.config.js
PRETTIER_PATHS := $(JS_PATHS) package.json .prettierrc.json

lint: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MYPY)
	$(ESLINT) $(JS_PATHS)
	$(PRETTIER) --check $(PRETTIER_PATHS)

format: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(PRETTIER) --write $(PRETTIER_PATHS)
	$(ESLINT) --fix $(JS_PATHS)

# WAF sync cost at 100 / 1,000 / 10,000 networks: wall time, WAF calls, DB queries (moto).
bench-sync: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_sync.py

# Notification drain cost per scheduled run: off, idle, and 1 / 10 / 500 new events.
bench-notify: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_notify.py

# gunicorn + wrk: /api/health vs the seed's Flask app, and the signed-in network list.
bench-api: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_api.py

# Bytes and requests the admin console costs a browser up to its first render (Chromium).
bench-frontend: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_frontend.py

# 50 additions from 8 and 16 clients through gunicorn (4 workers) on PostgreSQL, WAF with
# real latency (150 ms writes, 50 ms reads): WAF writes, all in WAF, p50/p99 (group commit).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/gatehouse_bench
bench-burst: $(STAMP)
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python tests/benchmarks/bench_burst.py
# Bulk import of 1,000 / 10,000 networks: wall time, WAF calls, SQL queries (moto; issue 17).
bench-import: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_import.py

# Reliability suite (tests/reliability): gunicorn (4 workers) on PostgreSQL, moto's server
# with injected faults, over HTTP; prints a table of figures. Needs PostgreSQL on 127.0.0.1.
SOAK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/gatehouse_soak
soak: $(STAMP)
	GATEHOUSE_SOAK=1 GATEHOUSE_SOAK_DATABASE_URL=$(SOAK_DATABASE_URL) \
		$(PYTEST) tests/reliability -s -p no:cacheprovider $(PYTEST_ARGS)

# The same scenarios with small counts (CI).
soak-short: $(STAMP)
	GATEHOUSE_SOAK=1 GATEHOUSE_SOAK_SHORT=1 GATEHOUSE_SOAK_DATABASE_URL=$(SOAK_DATABASE_URL) \
		$(PYTEST) tests/reliability -p no:cacheprovider $(PYTEST_ARGS)

# Removes what make and the app made; tracked files (var/.gitkeep) stay.
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache node_modules
	[ ! -d var ] || find var -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
