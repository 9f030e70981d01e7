# The two commands: `make run` (set up and start everything) and `make test` (set up and run every test).
SHELL := /bin/bash
PY := .venv/bin/python
export PATH := $(CURDIR)/.venv/bin:$(PATH)
# Local configuration: config/local.env as defaults; a variable set in the environment wins.
.run/local.mk: config/local.env
	@mkdir -p .run && sed -E 's/^([A-Z_]+)=(.*)$$/\1 ?= \2/' $< > $@
include .run/local.mk
export KAFKA_BOOTSTRAP_SERVERS DATABASE_URL JWT_SECRET TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN TWILIO_API_BASE \
       SMTP_HOST SMTP_PORT CRISIS_THRESHOLD HOTLINE_NUMBERS DASHBOARD_USERS NOTIFIER_URL \
       INTAKE_FIELD_KEYS INTAKE_FIELD_KEY_ACTIVE
export GDACS_FEED_URL USGS_FEED_URL
PYTEST_ARGS ?=

.PHONY: demo demo-feeds frontend-deps e2e chaos fuzz browser venv infra keycloak topics migrate seed run stop test lint bench status token clean-data asyncapi k8s-validate scaleout scaleout-short moved-clock registrations
.DEFAULT_GOAL := run

# Each step of `make run` and `make infra` says one line with its duration; its output goes to .run/logs/<log>.log
# and is shown only when it fails (scripts/step.sh).
STEP := scripts/step.sh

# Hash-checked installs from requirements.lock (README, "Updating the lock file").
venv: .venv/.installed
.venv/.installed: pyproject.toml requirements.lock
	@$(STEP) venv pip -- scripts/venv.sh
	@touch $@

infra: venv
	@$(STEP) "kafka jars" kafka-jars -- scripts/kafka.sh install
	@$(STEP) database postgres -- scripts/postgres.sh start
	@$(STEP) broker kafka -- scripts/kafka.sh start
	@$(MAKE) --no-print-directory topics migrate seed

# The local OpenID Connect provider of the AUTH_MODE=oidc tests (Keycloak in dev mode on 127.0.0.1:8180, realm
# infra/keycloak/consular-realm.json): launched first by `make test`, the tests wait for it (20-60 s on 2 cores).
keycloak:
	@scripts/keycloak.sh start --no-wait || echo "keycloak: not started: the OIDC tests (tests/shared/test_oidc.py) will say why"

topics: venv
	@$(STEP) topics topics -- $(PY) -m shared.cli topics

migrate: venv
	@$(STEP) migrations migrate -- $(PY) -m shared.cli migrate

# Local data only (placeholder officers, an on-call rota): production runs `migrate` alone.
seed: venv
	@$(STEP) seed seed -- $(PY) -m shared.cli seed

run: infra
	@$(STEP) --show services services-start -- scripts/services.sh start

# The Kathmandu earthquake played through the real topics: open http://127.0.0.1:8003/dashboard first.
demo: run
	@echo "dashboard: http://127.0.0.1:8003/dashboard  (coordinator / coordinator-local)"
	@$(PY) -m services.crisis_center.dashboard demo

# The second scenario: an Orange earthquake appears in both local feeds (GDACS, USGS) and the crisis opens by itself.
demo-feeds: run
	@echo "dashboard: http://127.0.0.1:8003/dashboard  (coordinator / coordinator-local)"
	@$(PY) -m services.feeds.dev.demo

stop:
	@scripts/services.sh stop || true
	@scripts/keycloak.sh stop
	@scripts/kafka.sh stop
	@scripts/postgres.sh stop

status:
	@scripts/postgres.sh status || true
	@scripts/kafka.sh status || true
	@scripts/keycloak.sh status || true
	@scripts/services.sh status || true

test: keycloak infra browser frontend-deps
	@$(PY) -m pytest $(PYTEST_ARGS)

# The frontend's vendored libraries (d3, topojson, world-atlas): the test of the committed UI build rebuilds it.
frontend-deps: frontend/node_modules/.package-lock.json
frontend/node_modules/.package-lock.json: frontend/package-lock.json
	@$(STEP) "ui deps" npm -- npm ci --prefix frontend --no-audit --no-fund

lint: venv
	@$(PY) -m ruff check shared services tests bench
	@$(PY) -m mypy shared services
	@.venv/bin/lint-imports

bench: infra
	@$(PY) -m bench.run

# N registrations spread like real stays onto $(PREFIX)travellers.registrations (bench/crisis/registrations.py):
# make registrations N=1000000 PREFIX=bench1.   (Kafka running: make infra; topics made if missing; REGISTRATIONS_SEED)
registrations: venv
	@$(PY) -m bench.crisis registrations $(or $(N),1000000) $(PREFIX)

token: venv
	@$(PY) -m shared.cli token --role $(or $(ROLE),coordinator)

clean-data:
	@scripts/services.sh stop || true
	@scripts/kafka.sh reset
	@rm -rf .run/crisis_center/faust   # Faust's local tables must not outlive the changelogs they mirror
	@scripts/postgres.sh reset

asyncapi: venv
	@$(PY) -m shared.asyncapi > docs/asyncapi.json

# Kustomize build of every overlay, validated with kubeconform against Kubernetes, Strimzi and CloudNativePG schemas.
k8s-validate: venv
	@deploy/validate.sh

# Three-broker KRaft cluster (19092-19094), three replicas of every worker (intake, directory, crisis center,
# notifier, and one built from shared/), one broker and one replica of each killed under load (docs/deploy.md).
scaleout: infra
	@SCALEOUT=1 $(PY) -m pytest tests/deploy/test_three_brokers.py -s $(PYTEST_ARGS)

# The short form for CI (300 reports after the warm-up), run by .ci/run after `make test`.
scaleout-short: infra
	@SCALEOUT=1 SCALEOUT_EVENTS=300 $(PY) -m pytest tests/deploy/test_three_brokers.py -s $(PYTEST_ARGS)

# The date-sensitive tiers (intake, crisis center, notifier) with the clock moved by libfaketime for the tests, the
# services they start and a PostgreSQL of their own: about 400 days ahead, then 23:59 on 31 December in Brussels.
moved-clock: infra
	@scripts/moved-clock.sh ahead $(PYTEST_ARGS)
	@scripts/moved-clock.sh new-year $(PYTEST_ARGS)

# Debian's Chromium for the browser tests (Playwright drives it; its own browser download cannot work here).
browser:
	@test -x /usr/bin/chromium || { echo "installing Debian's chromium"; apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The full fuzzing run: schemathesis (fuzzing phase: 150 cases per operation, positive and negative drawn together;
# the examples and coverage phases add their own; over 1,000 a service), 300 signed Twilio forms per webhook,
# bad events on every inbound topic. `make test` runs the same suites with FUZZ_EXAMPLES=25.
fuzz: infra
	@FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),150) $(PY) -m pytest -m fuzz tests/fuzz -s $(PYTEST_ARGS)

# The full chaos run: its own broker (9392) and PostgreSQL (5436); every process SIGKILLed in turn, the broker
# restarted, PostgreSQL down 30 s, Kafka down 60 s; and Twilio down 15 minutes under 500 alerts (make test runs a
# scaled-down form of the same tests).
chaos: infra
	@CHAOS_FULL=1 $(PY) -m pytest -m chaos tests/e2e/test_chaos.py tests/notifier/test_notifier_chaos.py -s $(PYTEST_ARGS)

# The acceptance scenario through every service process alone (also part of `make test`).
e2e: infra browser
	@$(PY) -m pytest -m e2e tests/e2e $(PYTEST_ARGS)
