# Two commands on a fresh machine: `make run` (the service) and `make test` (the suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Tests run against PostgreSQL on this machine unless DATABASE_URL says otherwise.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test lint format bench clean chromium

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

# Web (127.0.0.1:8000), Celery worker and Celery beat in one foreground process.
# PUBLIC_BASE_URL follows PORT here (links in chat messages open this server); honcho
# gives each process its own PORT, so the worker could not derive it itself.
run: $(VENV)/.installed
	@mkdir -p var
	@export DEBUG=$${DEBUG:-true} WEBHOOK_ALLOW_PRIVATE_TARGETS=$${WEBHOOK_ALLOW_PRIVATE_TARGETS:-true} PORT=$${PORT:-8000} \
		LOG_FORMAT=$${LOG_FORMAT:-text}; \
	export PUBLIC_BASE_URL=$${PUBLIC_BASE_URL:-http://127.0.0.1:$$PORT}; \
	$(BIN)/python manage.py check_redis && \
	$(BIN)/python manage.py migrate --noinput -v0 && \
	$(BIN)/python manage.py metrics_reset -v0 && \
	$(BIN)/python manage.py ensure_admin && \
	echo "Admin: http://127.0.0.1:$$PORT/admin/   API docs: http://127.0.0.1:$$PORT/api/docs" && \
	PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/honcho start

test: $(VENV)/.installed-dev lint chromium
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/pytest $(PYTEST_ARGS)

# The browser tests (tests/browser) use Debian's Chromium; Playwright never downloads one.
chromium:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } || \
		echo "No /usr/bin/chromium (install the chromium package): the browser tests are skipped (they fail under CI=true)"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} $(BIN)/python -m bench

clean:
	rm -rf $(VENV) var db.sqlite3 .pytest_cache .ruff_cache
