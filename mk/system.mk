# System packages: everything `make test` needs from the machine, in this one list. It
# installs the missing ones itself through apt when it runs as root (one `apt-get update`
# first, and only when something is missing); otherwise it stops with one line naming
# them. Each entry is PACKAGE=PROBE, the probe a command on PATH or an absolute file
# path that shows the package (or an equivalent) is there.
#   protobuf-compiler, libprotobuf-dev  check-proto (google/protobuf/struct.proto)
#   redis-server                        rateLimiting's Redis tests (test-go)
#   bazel-bootstrap                     Bazel 4.2.3 loading and analysis (test-bazel)
#   npm                                 installs buildifier into .tools/
#   runc, umoci                         run the built image (test-image)
SYSTEM_PACKAGES := \
	protobuf-compiler=protoc \
	libprotobuf-dev=/usr/include/google/protobuf/struct.proto \
	redis-server=redis-server \
	bazel-bootstrap=bazel \
	npm=npm \
	runc=runc \
	umoci=umoci

.PHONY: system-packages

system-packages:
	@bash mk/system-packages.sh $(SYSTEM_PACKAGES)
