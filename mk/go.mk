# Go: the engine module and every example policy module, tied together by go.work.

GO ?= go
GO_DIRS := ./engine/... $(patsubst %,./%/...,$(shell find policies -name go.mod -printf '%h\n' 2>/dev/null | sort))

.PHONY: go-mod-download lint-go test-go bench-go

go-mod-download:
	$(GO) mod download -C engine
	@for d in $$(find policies -name go.mod -printf '%h\n' | sort); do $(GO) mod download -C $$d || exit 1; done

lint-go:
	@out=$$(gofmt -l engine policies); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GO_DIRS)

test-go:
	$(GO) test -race -count=1 $(GO_DIRS)

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem ./engine/...
