# Gatehouse: `make run` starts it locally, `make test` runs the suite (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench-sync bench-api bench-frontend soak clean

# Re-installs only when pyproject.toml changes, so a second run starts at once.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	DJANGO_DEBUG=true GATEHOUSE_CLIENT_IP_SOURCE=direct $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=true GATEHOUSE_CLIENT_IP_SOURCE=direct $(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# WAF sync cost at 100 / 1,000 / 10,000 networks: wall time, WAF calls, DB queries (moto).
bench-sync: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_sync.py

# gunicorn + wrk: /api/health vs the seed's Flask app, and the signed-in network list.
bench-api: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_api.py

# Bytes and requests the admin console costs a browser up to its first render (Chromium).
bench-frontend: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_frontend.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
