# The OCI image (tools/gen/image, docs/image.md): `make build` writes it into $(OUTPUT)/;
# `make test-image` runs it with runc behind a real Envoy (tests/image).
# System packages the image tests need; root installs them (issue 12 folds these into
# the single apt list).
IMAGE_APT_PACKAGES := runc umoci
IMAGE_TOOL := tools/gen/image

.PHONY: image-deps lint-image test-image

image-deps:
	@missing=$$(for p in $(IMAGE_APT_PACKAGES); do command -v $$p >/dev/null || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends $$missing; \
	else echo "image tests need: $$missing (apt-get install as root); they will be skipped"; fi

lint-image:
	@out=$$(gofmt -l $(IMAGE_TOOL)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	cd $(IMAGE_TOOL) && GOWORK=off $(GO) vet ./...

test-image: $(VENV)/.installed go-mod-download image-deps lint-image
	cd $(IMAGE_TOOL) && GOWORK=off $(GO) test -race -count=1 ./...
	$(VENV)/bin/pytest -q tests/image
