# FlashSale: see README.md. `make run` runs a local flash sale; `make test` runs every test against real infrastructure.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
SLN := FlashSale.sln
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: help build test infra-up infra-down clean run up down bench crds images kind-up deploy e2e undeploy

help:
	@echo "make run      run a whole flash sale locally (infra, services, burst of buyers, audit)"
	@echo "make test     start local PostgreSQL/Redis/RabbitMQ and run every test"
	@echo "make build    build the solution"
	@echo "make up/down  keep the platform running for manual use / stop it"
	@echo "make bench    benchmark the order path against the PostgreSQL baselines"
	@echo "make clean    remove build output and local data (.run/)"

build:
	$(DOTNET) build $(SLN) -c $(CONFIG)

infra-up:
	scripts/infra.sh up

infra-down:
	scripts/infra.sh down

# Test projects run one after another (-m:1): fault tests stop and start the shared local servers.
test: infra-up
	$(DOTNET) build $(SLN) -c $(CONFIG)
	$(DOTNET) test $(SLN) -c $(CONFIG) --no-build -m:1 --logger "console;verbosity=minimal"

# Local platform as processes on loopback ports (users 5101, orders 5102, stock 5103); see scripts/run-local.sh.
run:
	scripts/run-local.sh run

up:
	scripts/run-local.sh up

down:
	scripts/run-local.sh down

# One program run: HTTP ceiling vs order path per stock gate, and the outbox drain; see docs/benchmarks.md.
bench:
	scripts/bench.sh

clean:
	-scripts/infra.sh down
	$(DOTNET) clean $(SLN) >/dev/null 2>&1 || true
	find . -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
	rm -rf .run
