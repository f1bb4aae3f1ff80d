# Single entry point for people and CI. `make build` builds a custom engine from
# policies/; `make test` runs every test and lint. Each area keeps its targets in mk/.

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PYTHON := $(VENV)/bin/python
POLICY_BUILDER := $(VENV)/bin/policy-builder
# Tools the build installs itself (buildifier) live here, never in the system.
TOOLS_DIR := $(CURDIR)/.tools

POLICIES ?= policies
OUTPUT ?= output

include mk/system.mk
include mk/python.mk
include mk/go.mk
include mk/bazel.mk
include mk/edge.mk
include mk/bench.mk
include mk/e2e.mk
include mk/envoy.mk
include mk/bazel-real.mk
include mk/image.mk

.PHONY: help build test lint bench clean

help:
	@echo "make build   build a custom policy engine from $(POLICIES)/ into $(OUTPUT)/"
	@echo "make test    run every test and lint (Python, Go, Bazel files, end to end through Envoy)"
	@echo "make run     the engine just built behind a real Envoy with an echo upstream (Ctrl-C stops it)"
	@echo "make bench   run the benchmarks (Go, builder scale, generate vs Gazelle, load tests with and without Envoy)"
	@echo "make bazel-real MIRROR=<dir>   real Bazel 7.7.1 in a sid chroot (root; tools/bazel_real)"

build: build-deps
	$(POLICY_BUILDER) build --policies $(POLICIES) --output $(OUTPUT)

# What the builder needs, made side by side (pip works while Go builds the helper): its
# virtualenv, the Go modules and its Go helper. Under `make -jN` the jobserver decides.
.PHONY: build-deps build-deps-parallel
build-deps:
	@$(MAKE) --no-print-directory $(if $(findstring jobserver,$(MAKEFLAGS)),,-j3) build-deps-parallel
build-deps-parallel: $(VENV)/.builder go-mod-download gocheck-helper

# system-packages first: it installs what the machine lacks (mk/system.mk).
test: system-packages lint check-proto check-generated test-python test-go test-bazel test-e2e test-envoy test-image

lint: lint-python lint-go lint-bazel lint-image

bench: bench-go bench-python bench-generate bench-load bench-envoy

clean:
	rm -rf $(VENV) $(OUTPUT) .build $(TOOLS_DIR)
