# Bazel files: checked with buildifier, a Starlark interpreter (starlark-pyo3) and Bazel 4.2.3
# loading/analysis with stand-in rule sets (see docs/bazel.md, "What was verified here").
# buildifier comes from npm into .tools/; bazel-bootstrap from apt (mk/system.mk installs it).

BUILDIFIER_VERSION := 8.2.1
BUILDIFIER := $(TOOLS_DIR)/node_modules/.bin/buildifier
# Every Starlark file in the tree, hand-written and generated.
STARLARK_FILES = $(shell find . \( -path ./.git -o -path ./.venv -o -path ./.tools -o -path ./.build \
	-o -path ./output -o -path '*/node_modules' \) -prune -o \
	\( -name BUILD.bazel -o -name '*.bzl' -o -name MODULE.bazel -o -name WORKSPACE \) -print | sort)

.PHONY: lint-bazel test-bazel buildifier check-generated

buildifier: $(BUILDIFIER)

$(BUILDIFIER): | system-packages
	@command -v npm >/dev/null || { echo "npm is needed to install buildifier (apt-get install npm)"; exit 1; }
	npm install --prefix $(TOOLS_DIR) --no-save --no-audit --no-fund --silent @bazel/buildifier@$(BUILDIFIER_VERSION)
	@test -x $@

# The golden BUILD files and MODULE.bazel edits (tests/data/golden) are what generate
# writes, so they must pass too; their .golden suffix hides their type from buildifier.
GOLDEN_BUILD_FILES = $(shell find tests/data/golden -name 'BUILD.bazel.golden' | sort)
GOLDEN_MODULE_FILES = $(shell find tests/data/golden -name 'MODULE.bazel.golden' | sort)
GOLDEN_BZL_FILES = $(shell find tests/data/golden -name '*.bzl.golden' | sort)

lint-bazel: $(BUILDIFIER)
	$(BUILDIFIER) --mode=check --lint=warn $(STARLARK_FILES)
	$(BUILDIFIER) --mode=check --lint=warn --type=build $(GOLDEN_BUILD_FILES)
	$(BUILDIFIER) --mode=check --lint=warn --type=module $(GOLDEN_MODULE_FILES)
	$(BUILDIFIER) --mode=check --lint=warn --type=bzl $(GOLDEN_BZL_FILES)

# The go_deps checks read the Go module cache (go-mod-download fills it).
test-bazel: system-packages $(VENV)/.installed $(BUILDIFIER) go-mod-download
	BUILDIFIER=$(BUILDIFIER) POLICY_BUILDER_BAZEL4=1 $(VENV)/bin/pytest -q -rA tests/bazel

# The CI guard for committed generated files (BUILD files, the registry package, go.work,
# MODULE.bazel's use_repo): `generate --check` writes nothing and exits 1 with a diff when
# any is stale, like `gazelle -mode=diff`. Fix with `policy-builder generate`.
check-generated: $(VENV)/.installed go-mod-download gocheck-mod-download
	$(POLICY_BUILDER) generate --check --quiet --policies $(POLICIES)

# Refresh tests/bazel/facts.json, the facts every Bazel check is built from (docs/bazel.md,
# "The facts file"). MIRROR: folder of <owner>+<repo>/repo git snapshots of the pinned rule
# sets; BCR: the registry's snapshot; BAZEL_SRC: Bazel's sources at .bazelversion; DOCS: the
# output of tools/bazel_facts/doc_extract.sh; REFS: releases whose tag a snapshot lacks.
BCR ?= $(MIRROR)/bazelbuild+bazel-central-registry/repo
REFS ?= bazel_skylib@1.9.2=1.9.1
.PHONY: bazel-facts
bazel-facts: $(VENV)/.installed
	@test -n "$(MIRROR)" -a -n "$(BAZEL_SRC)" -a -n "$(DOCS)" || { \
		echo "usage: make bazel-facts MIRROR=<snapshots> BAZEL_SRC=<bazel sources> DOCS=<doc extracts> [BCR=…] [REFS=…]"; exit 2; }
	PYTHONPATH=tools $(PYTHON) -m bazel_facts --mirror $(MIRROR) --bcr $(BCR) \
		--bazel-src $(BAZEL_SRC) --doc-extracts $(DOCS) $(foreach r,$(REFS),--ref $(r)) \
		--out tests/bazel/facts.json

# Compare tests/bazel/facts.json with real Bazel's starlark_doc_extract output
# (tools/bazel_facts/doc_extract.sh DOCS); docs/bazel.md records the last run.
.PHONY: bazel-facts-crosscheck
bazel-facts-crosscheck: $(VENV)/.installed
	@test -n "$(DOCS)" || { echo "usage: make bazel-facts-crosscheck DOCS=<doc extracts>"; exit 2; }
	PYTHONPATH=tools $(PYTHON) -m bazel_facts.crosscheck --facts tests/bazel/facts.json --docs $(DOCS)
