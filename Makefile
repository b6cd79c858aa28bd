# pruneguard — build, test, tools.
#
# Every tool is built from the Go module proxy into ./bin at a pinned version. A tool is a file
# named with its version (bin/helm-v3.22.0) and a plain-named symlink to it (bin/helm), so a
# second `make tools` is a no-op and a version bump rebuilds exactly one tool.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

ROOT      := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
BIN       := $(ROOT)/bin
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/pruneguard/pruneguard/pkg/version.Version=$(VERSION)
IMG       ?= ghcr.io/pruneguard/pruneguard:$(VERSION)

# Pinned tool versions. kube-apiserver and etcd come from the modules under hack/tools, whose
# go.mod files pin them (k8s.io/kubernetes v1.37.2, go.etcd.io/etcd/server/v3 v3.6.16).
KUBE_VERSION             := v1.37.2
# The version kube-apiserver reports (helm checks the chart's kubeVersion against it); a build
# from the module proxy carries no VCS stamp, so it is set at link time.
KUBE_MAJOR := $(patsubst v%,%,$(word 1,$(subst ., ,$(KUBE_VERSION))))
KUBE_MINOR := $(word 2,$(subst ., ,$(KUBE_VERSION)))
ETCD_VERSION             := v3.6.16
REGISTRY_VERSION         := v3.1.2
HELM_VERSION             := v3.22.0
CONTROLLER_TOOLS_VERSION := v0.23.0
GOLANGCI_LINT_VERSION    := v2.15.0
CERT_MANAGER_VERSION     := v1.21.2
PROMETHEUS_OPERATOR_VERSION := v0.85.0

KUBE_APISERVER := $(BIN)/kube-apiserver
ETCD           := $(BIN)/etcd
REGISTRY       := $(BIN)/registry
HELM           := $(BIN)/helm
CONTROLLER_GEN := $(BIN)/controller-gen
GOLANGCI_LINT  := $(BIN)/golangci-lint
CERT_MANAGER_CRDS := $(BIN)/crds/cert-manager-$(CERT_MANAGER_VERSION)
SERVICEMONITOR_CRD := $(BIN)/crds/prometheus-operator-$(PROMETHEUS_OPERATOR_VERSION)

# Tests find the tools through these, so `go test` run by hand after `make tools` works too.
export PRUNEGUARD_BIN_DIR := $(BIN)

# Test knobs: FUZZTIME is how long each fuzz target runs in `make test`.
FUZZTIME   ?= 10s
TEST_FLAGS ?=
# BENCH selects the benchmarks `make bench` runs (a go test -bench regexp), BENCH_SKIP leaves
# some out (go test -skip), and PRUNEGUARD_BENCH_SIZES the cluster sizes of the sized ones.
BENCH      ?= .
BENCH_SKIP ?= ^$$
# BENCH_PKGS are the packages with benchmarks: linking and starting the test binaries of the
# others one at a time (go test -p 1) cost `make bench` half a minute for nothing.
BENCH_PKGS := $(sort $(dir $(shell grep -rl --include='*_test.go' '^func Benchmark' --exclude-dir=hack --exclude-dir=bin .)))
export PRUNEGUARD_BENCH_SIZES ?= S,M,L

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} \
	  /^[a-zA-Z0-9_.-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: build
build: ## Build bin/pruneguard.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/pruneguard ./cmd/pruneguard

.PHONY: demo
demo: tools ## Play the whole loop on a local control plane and registry (DEMO_KEEP=1 keeps it running).
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/pruneguard demo

.PHONY: fmt
fmt: ## Format the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint with .golangci.yml.
	$(GOLANGCI_LINT) run ./...

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate the OpenShift CRDs the test environment installs.
	$(GO) run ./hack/gencrds -controller-gen $(CONTROLLER_GEN) -out pkg/testenv/crds

##@ Test

.PHONY: test
test: tools vet test-unit helm-lint helm-test fuzz ## Run every test: unit, integration (real API server, etcd, registry, helm), chart and fuzz.

.PHONY: test-unit
test-unit: tools ## Run the Go tests, integration tests included (the chart's are helm-test's).
	$(GO) test $(TEST_FLAGS) -count=1 -timeout 40m $$($(GO) list ./... | grep -v /charts/)

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 10s).
	@$(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | awk '{print $$2}'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

.PHONY: helm-lint
helm-lint: $(HELM) ## Lint the chart with helm lint --strict, and check its values, schema and README agree.
	$(HELM) lint --strict charts/pruneguard
	$(GO) test -count=1 -run 'TestHelmLint|TestInvalidValues|TestREADME|TestEveryValue|TestSchema|TestDashboard|TestEmbedded' ./charts/...

.PHONY: helm-test
helm-test: tools ## Render the chart and dry-run every object against a real API server.
	$(GO) test -count=1 ./charts/...

.PHONY: bench
bench: tools ## Run every benchmark, sized ones at S, M and L; print and write the report (bench/results/).
	@mkdir -p bench/results
	@# -p 1: one package's benchmarks at a time, so that they do not share the two cores.
	$(GO) test -p 1 -run '^$$' -bench '$(BENCH)' -skip '$(BENCH_SKIP)' -benchtime 1x -timeout 180m $(BENCH_PKGS) | tee bench/results/bench-output.txt
	@# Issue 4 states its start-up targets at 100,000 pods and 50,000 images; the run above
	@# starts serve on synth L (the same pods, 200,000 images). A full run starts it on the
	@# issue's own cluster as well (BenchmarkColdStart/size=issue4, a few minutes).
	$(if $(and $(findstring L,$(PRUNEGUARD_BENCH_SIZES)),$(filter .,$(BENCH))),PRUNEGUARD_START_CLUSTER=issue4 $(GO) test -run '^$$' -bench 'BenchmarkColdStart|BenchmarkWarmStart' -benchtime 1x -timeout 60m ./pkg/server | tee -a bench/results/bench-output.txt)
	$(GO) run ./bench/cmd/report -in bench/results/bench-output.txt -out bench/results

.PHONY: bench-quick
bench-quick: tools ## Run the benchmarks, sized ones at S only, fewer webhook pairs (under 5 minutes), and write the report.
	@# A -bench filter such as '.*/size=S' would silence every benchmark without sizes, so the
	@# sizes are chosen through PRUNEGUARD_BENCH_SIZES instead. Loading S through the API
	@# server (BenchmarkLoad/.../api, a minute) is left out; its etcd loader stays.
	@# PRUNEGUARD_BENCH_QUICK (bench/report.Quick) cuts what costs minutes at any size: the
	@# webhook-latency pairs to a third, ByRate's 200/s (the main latency benchmark's rate), the
	@# do-nothing webhook floor and the index load at L.
	@PRUNEGUARD_BENCH_QUICK=1 $(MAKE) --no-print-directory bench PRUNEGUARD_BENCH_SIZES=S BENCH_SKIP='BenchmarkLoad/size=S/api'

##@ Tools

.PHONY: tools
tools: $(KUBE_APISERVER) $(ETCD) $(REGISTRY) $(HELM) $(CONTROLLER_GEN) $(CERT_MANAGER_CRDS) $(SERVICEMONITOR_CRD) ## Build every pinned tool into ./bin (cached).

# link makes bin/NAME point at bin/NAME-VERSION.
define link
	ln -sfn $(notdir $(1))-$(2) $(1)
endef

$(KUBE_APISERVER): $(KUBE_APISERVER)-$(KUBE_VERSION)
	$(call link,$@,$(KUBE_VERSION))
$(KUBE_APISERVER)-$(KUBE_VERSION): hack/tools/kube-apiserver/go.mod
	@echo "building kube-apiserver $(KUBE_VERSION) (about 11 minutes on 2 cores the first time)"
	cd hack/tools/kube-apiserver && $(GO) build -o $@.tmp \
	  -ldflags "-X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitMajor=$(KUBE_MAJOR) -X k8s.io/component-base/version.gitMinor=$(KUBE_MINOR)" \
	  k8s.io/kubernetes/cmd/kube-apiserver && mv $@.tmp $@

$(ETCD): $(ETCD)-$(ETCD_VERSION)
	$(call link,$@,$(ETCD_VERSION))
$(ETCD)-$(ETCD_VERSION): hack/tools/etcd/go.mod hack/tools/etcd/main.go
	cd hack/tools/etcd && $(GO) build -o $@.tmp . && mv $@.tmp $@

# go-install builds PACKAGE@VERSION into bin/NAME-VERSION.
define go-install
	@mkdir -p $(BIN)/.gobin-$(notdir $(1))
	GOBIN=$(BIN)/.gobin-$(notdir $(1)) $(GO) install $(2)@$(3)
	mv $(BIN)/.gobin-$(notdir $(1))/$(notdir $(1)) $(1)-$(3)
	rm -rf $(BIN)/.gobin-$(notdir $(1))
endef

$(REGISTRY): $(REGISTRY)-$(REGISTRY_VERSION)
	$(call link,$@,$(REGISTRY_VERSION))
$(REGISTRY)-$(REGISTRY_VERSION):
	$(call go-install,$(REGISTRY),github.com/distribution/distribution/v3/cmd/registry,$(REGISTRY_VERSION))

$(HELM): $(HELM)-$(HELM_VERSION)
	$(call link,$@,$(HELM_VERSION))
$(HELM)-$(HELM_VERSION):
	$(call go-install,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

$(CONTROLLER_GEN): $(CONTROLLER_GEN)-$(CONTROLLER_TOOLS_VERSION)
	$(call link,$@,$(CONTROLLER_TOOLS_VERSION))
$(CONTROLLER_GEN)-$(CONTROLLER_TOOLS_VERSION):
	$(call go-install,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

$(GOLANGCI_LINT): $(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION)
	$(call link,$@,$(GOLANGCI_LINT_VERSION))
$(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION):
	$(call go-install,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# module-files copies files (a glob inside module $(1)@$(2)) out of the module cache into $@.
define module-files
	@mkdir -p $@.tmp
	dir=$$(cd /tmp && $(GO) mod download -json $(1)@$(2) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	  cp $$dir/$(3) $@.tmp/ && chmod u+w $@.tmp/*.yaml
	rm -rf $@ && mv $@.tmp $@
	ln -sfn $(notdir $@) $(BIN)/crds/$(4)
endef

# cert-manager's CRDs are plain YAML in its module.
$(CERT_MANAGER_CRDS):
	$(call module-files,github.com/cert-manager/cert-manager,$(CERT_MANAGER_VERSION),deploy/crds/*.yaml,cert-manager)

# The ServiceMonitor CRD, so the chart's optional ServiceMonitor is dry-run against a real schema.
$(SERVICEMONITOR_CRD):
	$(call module-files,github.com/prometheus-operator/prometheus-operator,$(PROMETHEUS_OPERATOR_VERSION),example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml,prometheus-operator)

.PHONY: clean-tools
clean-tools: ## Remove every built tool.
	rm -rf $(BIN)

##@ Release

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine; not available on every machine).
	docker build --build-arg VERSION=$(VERSION) -t $(IMG) .
