# The platform's entry points. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The platform team's tooling (libs/platformctl): standard library only, no install.
PLATFORMCTL_ENV = PYTHONPATH=$(CURDIR)/libs/platformctl/src PLATFORM_ROOT=$(CURDIR)
PLATFORMCTL = $(PLATFORMCTL_ENV) python3 -m platformctl

# LOCATIONS: dg.toml's list, in its order (`platformctl locations`), read on
# first use. A dg.toml that disagrees with code_locations/ stops make with the
# reason; LOCATIONS=... on the command line narrows a target to some of them.
ifeq ($(origin LOCATIONS),undefined)
LOCATIONS = $(eval LOCATIONS := $(call read-locations))$(LOCATIONS)
endif
define read-locations
$(strip $(shell $(PLATFORMCTL) locations)$(if $(filter-out 0,$(.SHELLSTATUS)),$(error make: the code locations could not be read from dg.toml (see above))))
endef

# Prerequisites (platformctl prereqs). The README's commands need only
# python3, make and a Docker engine: the tools below are found or installed
# here, and a target whose prerequisite is missing stops with one line saying
# how to get it (need-* targets, at the end).
PREREQS = $(PLATFORMCTL) prereqs
# DOCKER: a client that builds with BuildKit, found on first use: `docker` when
# it has buildx, else an older client with its own BuildKit builder (Debian's
# docker.io 20.10, while the 28.x `docker` first on CI's PATH has no buildx).
ifeq ($(origin DOCKER),undefined)
DOCKER = $(eval DOCKER := $(or $(shell $(PREREQS) docker 2>/dev/null),docker))$(DOCKER)
endif
# UV: uv on PATH, else uv $(UV_VERSION) that `need-uv` installs into a per-user
# cache. 0.13.9 wrote the uv.lock files (docker/Dockerfile and CI pin the same).
UV_VERSION := 0.13.9
UV_HOME ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/dagster-platform/uv-$(UV_VERSION)
ifeq ($(origin UV),undefined)
UV := $(or $(shell command -v uv 2>/dev/null),$(UV_HOME)/bin/uv)
endif
export UV
COMPOSE ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo "$(DOCKER) compose")
PROJECT ?= dagster-platform
REGISTRY ?= localhost
WEBSERVER_URL ?= http://127.0.0.1:$(or $(DAGSTER_WEBSERVER_PORT),3000)

# AIRGAP=1: machines with no registry (CI). Build stand-in base images from
# Debian packages instead of pulling python, postgres and pgbouncer. (The object store is
# built from SeaweedFS's PyPI release either way: docker/s3/Dockerfile.)
AIRGAP ?=
ifeq ($(AIRGAP),1)
PYTHON_IMAGE := $(REGISTRY)/dagster-platform/python-airgap:3.11-bookworm
export POSTGRES_IMAGE := $(REGISTRY)/dagster-platform/postgres-standin:15
export PGBOUNCER_IMAGE := $(REGISTRY)/dagster-platform/pgbouncer-standin:1.18
CA_BUNDLE ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
else
PYTHON_IMAGE ?= python:3.11-slim-bookworm
endif
# Optional CA bundle for TLS-intercepting proxies, passed as a build secret.
CA_BUNDLE ?=
, := ,
BUILD_ANY = DOCKER_BUILDKIT=1 $(DOCKER) build --progress=plain $(if $(CA_BUNDLE),--secret id=ca$(,)src=$(CA_BUNDLE))
BUILD = $(BUILD_ANY) --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -f docker/Dockerfile

export REGISTRY PYTHON_IMAGE DOCKER PROJECT
export DOCKER_GID ?= $(shell stat -c %g /var/run/docker.sock 2>/dev/null || echo 0)
# Image tags are content hashes of what each image is built from
# (platformctl content-tag): immutable, and the same code gives the same tag.
# COMPOSE_LOCATIONS: the locations' services, generated from dg.toml before
# every compose command (compose-locations). COMPOSE_OVERRIDE: extra compose
# files after it (make bench uses one for its reference profile).
COMPOSE_LOCATIONS := .generated/compose.locations.yaml
COMPOSE_OVERRIDE ?=
export DC_RAW := $(COMPOSE) -p $(PROJECT) --project-directory . --env-file .env -f docker/compose.yaml -f $(COMPOSE_LOCATIONS) $(addprefix -f ,$(COMPOSE_OVERRIDE))
DC = env $$($(PLATFORMCTL) compose-env platform s3 $(LOCATIONS)) $(DC_RAW)
PLATFORM_IMAGE = $(REGISTRY)/dagster-platform/platform:$$($(PLATFORMCTL) content-tag platform)

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z][a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# .env: created on first use, and given every secret it lacks (a new location's)
# with random values; values already there never change.
.PHONY: .env
.env: | need-python
	@$(PLATFORMCTL) env

.PHONY: airgap-images
airgap-images: need-build ## (AIRGAP=1) Build stand-in base, Postgres and PgBouncer images from Debian packages
ifeq ($(AIRGAP),1)
	DOCKER=$(DOCKER) docker/airgap/build-base.sh $(PYTHON_IMAGE)
	$(BUILD_ANY) --build-arg BASE_IMAGE=$(PYTHON_IMAGE) -f docker/airgap/postgres.Dockerfile -t $(POSTGRES_IMAGE) .
	$(BUILD_ANY) --build-arg BASE_IMAGE=$(PYTHON_IMAGE) -f docker/airgap/pgbouncer.Dockerfile -t $(PGBOUNCER_IMAGE) .
endif

.PHONY: build
build: build-platform build-s3 ## Build the platform image, the object store's and one image per code location
	@for loc in $(LOCATIONS); do $(MAKE) --no-print-directory build-location LOCATION=$$loc || exit 1; done

.PHONY: build-s3
build-s3: airgap-images
	@tag=$$($(PLATFORMCTL) content-tag s3); \
	  $(BUILD_ANY) --build-arg PYTHON_IMAGE=$(PYTHON_IMAGE) -f docker/s3/Dockerfile -t $(REGISTRY)/dagster-platform/s3:$$tag . \
	  && $(PLATFORMCTL) record s3 $$tag

.PHONY: build-platform
build-platform: airgap-images
	@tag=$$($(PLATFORMCTL) content-tag platform); \
	  $(BUILD) --target platform -t $(REGISTRY)/dagster-platform/platform:$$tag . && $(PLATFORMCTL) record platform $$tag

.PHONY: build-location
build-location: check-location need-build
	@tag=$$($(PLATFORMCTL) content-tag $(LOCATION)); ref=$(REGISTRY)/dagster-platform/$(LOCATION):$$tag; \
	  $(BUILD) --target code-location --build-arg LOCATION=$(LOCATION) --build-arg IMAGE_REF=$$ref -t $$ref . \
	  && $(PLATFORMCTL) record $(LOCATION) $$tag

.PHONY: check-location
check-location:
	@case " $(LOCATIONS) " in *" $(LOCATION) "*) ;; \
	  *) echo "LOCATION must be one of: $(LOCATIONS) (got '$(LOCATION)')" >&2; exit 2;; esac

.PHONY: deploy
deploy: check-location need-build need-compose ## Ship one location with no downtime for the others: make deploy LOCATION=ingest
	@start=$$(date +%s.%N); tag=$$($(PLATFORMCTL) content-tag $(LOCATION)); \
	  ref=$(REGISTRY)/dagster-platform/$(LOCATION):$$tag; \
	  $(BUILD) --quiet --target code-location --build-arg LOCATION=$(LOCATION) --build-arg IMAGE_REF=$$ref -t $$ref . >/dev/null \
	  && WEBSERVER_URL=$(WEBSERVER_URL) $(PLATFORMCTL) deploy $(LOCATION) $$tag $$ref $$start

.PHONY: rollback
rollback: check-location need-compose ## Return one location to its previous image: make rollback LOCATION=ingest
	@WEBSERVER_URL=$(WEBSERVER_URL) $(PLATFORMCTL) rollback $(LOCATION)

.PHONY: new-location
new-location: need-uv ## Scaffold a code location, list it in dg.toml, regenerate the rest: make new-location NAME=billing
	@UV="$(UV)" $(PLATFORMCTL) new-location '$(NAME)'

.PHONY: generate
generate: need-python ## Rewrite what is generated from dg.toml (workspace.yaml, Helm and bench entries, CODEOWNERS, ...)
	@$(PLATFORMCTL) generate

# The locations' compose services (git-ignored), before any compose command.
.PHONY: compose-locations
compose-locations: need-python
	@$(PLATFORMCTL) generate compose

.PHONY: upgrade
upgrade: need-uv ## Move every Dagster pin to one release and re-lock every project: make upgrade DAGSTER=1.13.28
	@[ -n "$(DAGSTER)" ] || { echo "DAGSTER=<version> is required, e.g. make upgrade DAGSTER=1.13.28" >&2; exit 2; }
	@UV="$(UV)" $(PLATFORMCTL) upgrade '$(DAGSTER)'

.PHONY: check
check: need-docker .env build-platform ## Validate dagster.yaml, workspace.yaml, the compose file, .env and the locations' grants
	@$(PLATFORMCTL) check-env
	@$(DOCKER) run --rm --network none --user $$(id -u):$$(id -g) -v "$(CURDIR)":/repo:ro -w /repo \
	  --entrypoint python $(PLATFORM_IMAGE) -m platformctl check --root /repo

# Each principal's credentials, from .env, into its own volume (docs/security.md).
.PHONY: sync-secrets
sync-secrets: need-docker .env build-platform compose-locations
	@DC_RAW="$(DC_RAW)" PLATFORM_IMAGE=$(PLATFORM_IMAGE) $(PLATFORMCTL) sync

.PHONY: up
up: need-compose .env check build sync-secrets ## Start the platform; returns when the UI answers and every location is LOADED
	@$(DC) up -d --remove-orphans || { $(DC) logs --no-color --tail=20 init; exit 1; }
	@$(PLATFORMCTL) wait-ready --url $(WEBSERVER_URL) --expect $(LOCATIONS) || { \
	  $(DC) ps; $(DC) logs --tail=30 $(LOCATIONS) webserver; exit 1; }
	@echo "Dagster UI: $(WEBSERVER_URL)"

.PHONY: down
down: need-compose ## Stop the platform and remove its run containers (data volumes are kept)
	@# The daemon first: a sensor's run launched after the run containers are removed
	@# would keep the network busy and outlive the platform.
	-@$(DC) stop daemon webserver >/dev/null 2>&1
	-@ids=$$($(DOCKER) ps -aq --filter label=dagster-platform/location); [ -z "$$ids" ] || $(DOCKER) rm -f $$ids >/dev/null
	$(DC) down --remove-orphans

.PHONY: destroy
destroy: need-compose .env ## Stop the platform and DELETE its data volumes (run history, warehouse, objects): make destroy CONFIRM=yes
	@[ "$(CONFIRM)" = yes ] || { echo "make destroy deletes the volumes $(PROJECT)_pgdata, $(PROJECT)_s3data and the credential volumes; run: make destroy CONFIRM=yes" >&2; exit 2; }
	$(MAKE) --no-print-directory down
	@for v in $(PROJECT)_pgdata $(PROJECT)_s3data; do \
	  if $(DOCKER) volume inspect $$v >/dev/null 2>&1; then $(DOCKER) volume rm $$v >/dev/null && echo "deleted volume $$v"; fi; \
	done
	@$(PLATFORMCTL) remove-volumes

.PHONY: prune
prune: need-docker ## Delete our images that neither run, nor serve a rollback, nor match this checkout (base images stay)
	@$(PLATFORMCTL) prune $(LOCATIONS)

.PHONY: rotate
rotate: need-compose sync-secrets ## New credentials for one principal (a location, or platform), no failed run: make rotate PRINCIPAL=ingest
	@[ -n "$(PRINCIPAL)" ] || { echo "PRINCIPAL=<platform or a location> is required" >&2; exit 2; }
	@env $$($(PLATFORMCTL) compose-env platform s3 $(LOCATIONS)) DC_RAW="$(DC_RAW)" PLATFORM_IMAGE=$(PLATFORM_IMAGE) \
	  WEBSERVER_URL=$(WEBSERVER_URL) $(PLATFORMCTL) rotate '$(PRINCIPAL)' $(if $(DRAIN_TIMEOUT),--drain-timeout $(DRAIN_TIMEOUT))

.PHONY: rotate-retire
rotate-retire: need-compose ## Make the previous credentials of PRINCIPAL stop working now (after make rotate)
	@[ -n "$(PRINCIPAL)" ] || { echo "PRINCIPAL=<platform or a location> is required" >&2; exit 2; }
	@env $$($(PLATFORMCTL) compose-env platform s3 $(LOCATIONS)) DC_RAW="$(DC_RAW)" PLATFORM_IMAGE=$(PLATFORM_IMAGE) \
	  $(PLATFORMCTL) rotate-retire '$(PRINCIPAL)'

.PHONY: logs
logs: need-compose ## Follow the logs of every service
	$(DC) logs -f --tail=100

.PHONY: logs-tail
logs-tail: need-compose ## Print the last log lines of every service: make logs-tail TAIL=200
	$(DC) logs --no-color --tail=$(or $(TAIL),200)

.PHONY: ps
ps: need-compose ## Show the services and their health
	$(DC) ps

BACKUP_DIR ?= backups
PG = $(DC) exec -T postgres sh -c

.PHONY: backup
backup: need-compose ## Dump the instance database (run history, schedules, sensors) to backups/
	@mkdir -p $(BACKUP_DIR)
	@out=$(BACKUP_DIR)/dagster-$$(date -u +%Y%m%dT%H%M%SZ).sql.gz; \
	  $(PG) 'pg_dump -U "$$POSTGRES_USER" -d "$$POSTGRES_DB" --clean --if-exists --no-owner' | gzip >$$out.tmp \
	  && mv $$out.tmp $$out && echo "backup written: $$out"

.PHONY: restore
restore: need-compose ## Restore the instance database: make restore BACKUP=backups/dagster-<time>.sql.gz
	@test -s "$(BACKUP)" || { echo "BACKUP=<file> must name a backup made by make backup" >&2; exit 2; }
	@gzip -t "$(BACKUP)" || { echo "$(BACKUP) is not a complete gzip file" >&2; exit 2; }
	$(DC) stop webserver daemon
	@# One transaction: a failed restore leaves the database as it was. The
	@# webserver and daemon come back either way.
	@status=0; gunzip -c "$(BACKUP)" | $(PG) 'psql -q -v ON_ERROR_STOP=1 --single-transaction \
	  -U "$$POSTGRES_USER" -d "$$POSTGRES_DB"' >/dev/null || status=$$?; \
	  $(DC) start webserver daemon; [ $$status -eq 0 ] || { echo "restore failed; database unchanged" >&2; exit $$status; }
	@$(PLATFORMCTL) wait-ready --url $(WEBSERVER_URL) --expect $(LOCATIONS)

.PHONY: dev
dev: need-uv ## Every location in one `dagster dev` (SQLite, local files, DuckDB): no Docker
	@for loc in $(LOCATIONS); do (cd code_locations/$$loc && $(UV) sync --frozen --group dev -q); done
	$(PLATFORMCTL_ENV) $(UV) run --frozen --group dev python -m platformctl dev --port $(or $(DEV_PORT),3000) $(LOCATIONS)

PYTEST = $(UV) run --frozen --group dev pytest -q

.PHONY: test
test: need-uv ## The fast suite: each location's tests and `dg check defs`/`dg list defs`, then `make test-platform` (no Docker engine needed)
	@for loc in $(LOCATIONS); do echo "== code_locations/$$loc"; (cd code_locations/$$loc && $(PYTEST)); \
	  $(PLATFORMCTL) check-defs $$loc; done
	@$(MAKE) --no-print-directory test-platform

.PHONY: check-defs
check-defs: need-uv ## `dg check defs` and `dg list defs` in every location (or LOCATIONS=...)
	@$(PLATFORMCTL) check-defs $(LOCATIONS)

.PHONY: test-platform
test-platform: need-uv ## The platform's part of `make test`: libs, config, compose, consistency, Helm, CI workflow
	@echo "== libs/platform_common"; cd libs/platform_common && $(PYTEST)
	@echo "== libs/platformctl"; cd libs/platformctl && $(PYTEST)
	@echo "== platform (config, consistency, helm)"
	$(PYTEST) -m "not e2e"

.PHONY: e2e
e2e: need-uv up ## Tests against the running compose stack (starts it first), the browser tests included
	DOCKER=$(DOCKER) PROJECT=$(PROJECT) DAGSTER_WEBSERVER_URL=$(WEBSERVER_URL) $(UV) run --frozen --group dev pytest -q --durations=15 -m e2e tests/e2e tests/security tests/ui tests/bench

.PHONY: bench
bench: need-uv up ## Benchmark Dagster's defaults against ours on the running stack: bench/results.json (docs/performance.md)
	DOCKER=$(DOCKER) PROJECT=$(PROJECT) DAGSTER_WEBSERVER_URL=$(WEBSERVER_URL) $(UV) run --frozen --group dev python bench/run.py $(BENCH_ARGS)

.PHONY: screenshot
screenshot: need-uv ## Regenerate docs/images/asset-graph.png from the running stack (make up first)
	$(PLATFORMCTL_ENV) $(UV) run --frozen --group dev python -m platformctl screenshot --url $(WEBSERVER_URL) --out docs/images/asset-graph.png

# Each stops with one line naming what is missing and how to get it.
.PHONY: need-python need-uv need-docker need-build need-compose
need-python:
	@command -v python3 >/dev/null || { echo "make: python3 is required: install Python 3.11 (Debian: apt-get install python3; https://www.python.org/downloads/)" >&2; exit 1; }
	@python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "make: python3 is $$(python3 -V 2>&1 | cut -d' ' -f2); the platform's tools need Python 3.11 or newer (https://www.python.org/downloads/)" >&2; exit 1; }
need-uv: need-python
	@$(PREREQS) need-uv "$(UV)" --version $(UV_VERSION) --home "$(UV_HOME)"
# need-docker: an engine answers; need-build: and DOCKER builds with BuildKit;
# need-compose: and the compose command runs.
need-docker need-build need-compose: need-python
	@$(PREREQS) need-docker "$(DOCKER)" $(if $(filter need-build,$@),--build) $(if $(filter need-compose,$@),--compose "$(COMPOSE)")
# Every target that runs compose needs the locations' generated compose file.
need-compose: compose-locations
