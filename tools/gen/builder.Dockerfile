# Builder image: the engine sources, the templates, the Go toolchain and
# the policy-builder tool. Users mount their policies and get an engine out:
#
#   docker build -f tools/gen/builder.Dockerfile -t policy-engine-builder:dev .
#   docker run --rm -v "$PWD/policies:/policies:ro" -v "$PWD/output:/output" \
#       -e BUILD_VERSION=v1.0.0 -e SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" \
#       policy-engine-builder:dev
#
# The build context is the repository root. See docs/builder.md.

FROM golang:1.26.8-bookworm

# python3 runs the builder; upx-ucl serves ENABLE_UPX_COMPRESSION=true.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv upx-ucl \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/policy-engine
COPY engine/ engine/
COPY templates/ templates/
COPY rules/image_config.bzl rules/image_config.bzl
COPY tools/gen/ tools/gen/

# The tool is installed (not editable), so it finds the engine through POLICY_ENGINE_HOME.
# The helper's build cache lives in the image so a run does not rebuild it.
ENV POLICY_ENGINE_HOME=/opt/policy-engine \
    XDG_CACHE_HOME=/opt/policy-engine/cache \
    POLICIES_DIR=/policies \
    OUTPUT_DIR=/output \
    GOTOOLCHAIN=local \
    PATH=/opt/venv/bin:$PATH

RUN python3 -m venv /opt/venv \
    && pip install --no-cache-dir ./tools/gen \
    && (cd engine && go mod download) \
    && (cd tools/gen/gocheck && GOWORK=off go mod download) \
    && python -m policy_builder.gocheck \
    && mkdir -p /output

ENTRYPOINT ["policy-builder"]
CMD ["build"]
