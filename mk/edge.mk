# Edge pieces: policy discovery (xDS), its generated protobuf code, the Envoy
# configuration generator.
# The Go tests of these packages run under test-go; these targets are for focused
# runs and for regenerating code.

PROTOC ?= protoc
PROTOC_GEN_GO_VERSION := v1.36.12
PROTO_SRC := engine/api/policyengine/v1/config.proto

.PHONY: proto check-proto test-edge need-protoc

need-protoc:
	@command -v $(PROTOC) >/dev/null || { echo "protoc missing: apt-get install -y protobuf-compiler libprotobuf-dev"; exit 1; }

$(TOOLS_DIR)/protoc-gen-go:
	GOBIN=$(TOOLS_DIR) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

# Needs Debian's protobuf-compiler and libprotobuf-dev (google/protobuf/struct.proto).
proto: need-protoc $(TOOLS_DIR)/protoc-gen-go
	PATH=$(TOOLS_DIR):$$PATH $(PROTOC) -I engine/api --go_out=engine/api --go_opt=paths=source_relative $(PROTO_SRC)

check-proto: system-packages need-protoc $(TOOLS_DIR)/protoc-gen-go
	PATH=$(TOOLS_DIR):$$PATH $(GO) test -count=1 -run TestGeneratedCodeIsCurrent ./engine/api/...

test-edge:
	$(GO) test -race -count=1 ./engine/kernel/xds/... ./engine/api/... ./engine/envoyconfig/...
