# FlashSale: see README.md. `make run` runs a local flash sale; `make test` runs every test against real infrastructure.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
SLN := FlashSale.sln
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: help build test infra-up infra-down clean run up down bench crds render images kind-up deploy e2e undeploy

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
	$(DOTNET) format $(SLN) --verify-no-changes --no-restore
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
	scripts/bench.sh $(ARGS)

# The FlashSale CRD, generated from the operator's C# types (a test fails when the committed files differ).
crds:
	$(DOTNET) run --project operator/FlashSale.Operator -c $(CONFIG) -- crds $(CURDIR)/crds $(CURDIR)/charts/flashsale-operator/crds

# Every object the operator applies for a sale, as YAML, with no cluster (like `helm template`).
SALE ?= examples/flashsale.yaml
render:
	@$(DOTNET) run --project operator/FlashSale.Operator -c $(CONFIG) -- render --file $(CURDIR)/$(SALE)

# ---- Kubernetes with kind: needs Docker, kind, kubectl and helm (not part of `make test`; see README) ----
KIND_CLUSTER ?= flashsale
IMAGE_REPO ?= flashsale
IMAGE_TAG ?= dev
DEPLOY_NS ?= default

# Container images through the SDK (no Dockerfiles, no daemon needed to build), loaded into the kind cluster if it exists.
images:
	for p in Users Stock Orders Notifications; do \
	  $(DOTNET) publish services/FlashSale.$$p -c Release -t:PublishContainer \
	    -p:ContainerRepository=$(IMAGE_REPO)/flashsale-$$(echo $$p | tr A-Z a-z) -p:ContainerImageTag=$(IMAGE_TAG) || exit 1; \
	done
	$(DOTNET) publish operator/FlashSale.Operator -c Release -t:PublishContainer \
	  -p:ContainerRepository=$(IMAGE_REPO)/flashsale-operator -p:ContainerImageTag=$(IMAGE_TAG)
	if kind get clusters 2>/dev/null | grep -qx $(KIND_CLUSTER); then \
	  for i in users stock orders notifications operator; do kind load docker-image $(IMAGE_REPO)/flashsale-$$i:$(IMAGE_TAG) --name $(KIND_CLUSTER) || exit 1; done; \
	fi

# An ingress controller for the sale's Ingress is left to you (e.g. ingress-nginx's kind manifest).
kind-up:
	kind get clusters | grep -qx $(KIND_CLUSTER) || kind create cluster --name $(KIND_CLUSTER) --config kind-config.yaml --wait 120s

deploy:
	helm upgrade --install flashsale-operator charts/flashsale-operator -n $(DEPLOY_NS) \
	  -f charts/flashsale-operator/values-dev.yaml \
	  --set image.repository=$(IMAGE_REPO)/flashsale-operator --set image.tag=$(IMAGE_TAG) --wait --timeout 5m

e2e:
	sed -e 's|repository: ghcr.io/flashsale|repository: $(IMAGE_REPO)|' -e 's|tag: "0.1.0"|tag: "$(IMAGE_TAG)"|' examples/flashsale.yaml | kubectl apply -f -
	kubectl wait flashsale/black-friday -n default --for=condition=Ready --timeout=300s
	kubectl get fs -n default
	kubectl delete flashsale/black-friday -n default --wait --timeout=120s

undeploy:
	-kubectl delete flashsales --all -A --wait --timeout=120s
	-helm uninstall flashsale-operator -n $(DEPLOY_NS)
	-kubectl delete -f crds/flashsales.flashsale.dev.yaml

clean:
	-scripts/infra.sh down
	$(DOTNET) clean $(SLN) >/dev/null 2>&1 || true
	find . -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +
	rm -rf .run
