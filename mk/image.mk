# The OCI image (tools/gen/image, docs/image.md): `make build` writes it into $(OUTPUT)/;
# `make test-image` runs it with runc behind a real Envoy (tests/image).
IMAGE_TOOL := tools/gen/image

.PHONY: lint-image test-image

lint-image:
	@out=$$(gofmt -l $(IMAGE_TOOL)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	cd $(IMAGE_TOOL) && GOWORK=off $(GO) vet ./...

test-image: $(VENV)/.installed go-mod-download system-packages lint-image
	cd $(IMAGE_TOOL) && GOWORK=off $(GO) test -race -count=1 ./...
	$(VENV)/bin/pytest -q tests/image
