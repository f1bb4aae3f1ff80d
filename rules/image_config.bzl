"""The engine image's configuration, the one list both build paths read: Bazel loads it
(rules/engine_image.bzl) and policy-builder parses it (policy_builder.image_config) for its
OCI image and Dockerfile. Plain literals only, so both can read it."""

# distroless "nonroot" user and group (uid/gid 65532); numeric so runAsNonRoot can verify it.
IMAGE_USER = "65532:65532"

# The engine runs as /app/<binary>, from /app.
IMAGE_APP_DIR = "/app"

IMAGE_CONFIG_PATH = "/etc/policy-engine/config.yaml"

# ext_proc (Envoy) and policy discovery (xDS).
IMAGE_PORTS = [
    "9001/tcp",
    "9002/tcp",
]

# Labels every image carries; version, revision, created, the loaded policies and the
# platform are added per build.
IMAGE_LABELS = {
    "org.opencontainers.image.description": "Envoy ext_proc policy engine with compiled-in policies",
    "org.opencontainers.image.title": "Policy Engine",
}

# "name:version" of each loaded policy, joined as the engine's --version prints them.
LOADED_POLICIES_LABEL = "policy-engine.loaded-policies"
LOADED_POLICIES_SEPARATOR = ", "
