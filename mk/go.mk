# Go: the engine module and every example policy module, tied together by go.work.

GO ?= go
GO_DIRS := ./engine/... $(patsubst %,./%/...,$(shell find policies -name go.mod -printf '%h\n' 2>/dev/null | sort))
# Fuzz targets run briefly on every `make test-go` (package:FuzzName); seeds live
# in each package's testdata/fuzz. Longer runs: make fuzz-go FUZZ_TIME=5m
GO_FUZZ_TARGETS := ./engine/kernel:FuzzAttributesAndHeaders ./engine/kernel:FuzzMessageSequence \
	./engine/worker/core:FuzzApply
FUZZ_TIME ?= 10s

.PHONY: go-mod-download lint-go test-go fuzz-go bench-go

# Every module the workspace (go.work: the engine and every policy) needs, in one command.
go-mod-download:
	$(GO) mod download

lint-go:
	@out=$$(gofmt -l engine policies); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GO_DIRS)
	$(GO) vet -tags e2e ./engine/e2e/

test-go: system-packages
	$(GO) test -race -count=1 $(GO_DIRS)
	$(MAKE) --no-print-directory fuzz-go

fuzz-go:
	@for t in $(GO_FUZZ_TARGETS); do \
		echo "fuzz $$t for $(FUZZ_TIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t##*:}$$" -fuzztime $(FUZZ_TIME) $${t%%:*} || exit 1; \
	done

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./engine/...
