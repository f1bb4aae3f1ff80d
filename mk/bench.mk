# Loopback load test: the no-op ext_proc server (floor) and the engine side by side.
# `make bench-load` builds the engine from policies/ with the real CLI and drives it
# with bench/engine-config.yaml (apiKey, setHeaders, local rateLimiting); see
# docs/load-test.md. ENGINE_BIN=path uses that binary instead (nothing is built);
# ENGINE_BIN= (empty) compares the floor with itself.

BENCH_ENGINE_OUT := .build/bench
BENCH_ENGINE_BIN := $(CURDIR)/$(BENCH_ENGINE_OUT)/policy-engine
ENGINE_BIN ?= $(BENCH_ENGINE_BIN)
ENGINE_CONFIG ?= $(CURDIR)/bench/engine-config.yaml

.PHONY: bench-load

bench-load: $(VENV)/.installed go-mod-download
	$(if $(filter $(BENCH_ENGINE_BIN),$(ENGINE_BIN)),$(POLICY_BUILDER) build --policies $(POLICIES) --output $(BENCH_ENGINE_OUT) --skip-package)
	GO=$(GO) ENGINE_BIN=$(ENGINE_BIN) ENGINE_CONFIG=$(ENGINE_CONFIG) bash bench/load.sh

# `policy-builder generate` side by side with Gazelle on the same tree (this checkout plus
# BENCH_POLICIES synthetic policies), cold and with no change, in alternating rounds;
# prints medians (docs/builder.md, "Numbers"). Gazelle is the version MODULE.bazel uses,
# installed into .tools/bin from the Go module proxy.
GAZELLE_VERSION := v0.53.0
GAZELLE := $(TOOLS_DIR)/bin/gazelle
BENCH_POLICIES ?= 500
BENCH_ROUNDS ?= 5

.PHONY: bench-generate

$(GAZELLE):
	GOBIN=$(TOOLS_DIR)/bin $(GO) install github.com/bazelbuild/bazel-gazelle/cmd/gazelle@$(GAZELLE_VERSION)

bench-generate: $(VENV)/.installed go-mod-download gocheck-mod-download $(GAZELLE)
	$(PYTHON) -m tests.bench.generate_vs_gazelle --count $(BENCH_POLICIES) --rounds $(BENCH_ROUNDS) --gazelle $(GAZELLE)
