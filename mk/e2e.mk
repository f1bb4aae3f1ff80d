# End to end: the real CLI builds an engine from policies/, then engine/e2e drives that
# binary over real gRPC (through a real Envoy: test-envoy, mk/envoy.mk).

E2E_OUT := .build/e2e

.PHONY: test-e2e

test-e2e: $(VENV)/.installed go-mod-download
	$(POLICY_BUILDER) build --policies $(POLICIES) --output $(E2E_OUT)
	POLICY_ENGINE_BIN=$(CURDIR)/$(E2E_OUT)/policy-engine $(GO) test -race -count=1 -tags e2e ./engine/e2e/...
