"""`policy_engine_image`: the engine in a distroless image, per architecture and as one
multi-arch index. The image's user, ports, paths and labels come from image_config.bzl,
which policy-builder's OCI image and Dockerfile read too."""

load("@bazel_lib//lib:expand_template.bzl", "expand_template")
load("@bazel_lib//lib:transitions.bzl", "platform_transition_filegroup")
load("@rules_oci//oci:defs.bzl", "oci_image", "oci_image_index", "oci_load")
load("@tar.bzl//tar:tar.bzl", "tar")
load(
    "//rules:image_config.bzl",
    "IMAGE_APP_DIR",
    "IMAGE_CONFIG_PATH",
    "IMAGE_LABELS",
    "IMAGE_PORTS",
    "IMAGE_USER",
    "LOADED_POLICIES_LABEL",
    "LOADED_POLICIES_SEPARATOR",
)

# Replaced by the stamped value under --stamp (the `release` config), by "dev"/"unknown"
# otherwise, so unstamped images stay byte-identical across commits with the same inputs.
VERSION_PLACEHOLDER = "0.0.0-POLICY-ENGINE-VERSION"
REVISION_PLACEHOLDER = "POLICY-ENGINE-REVISION"

ARCHITECTURES = [
    "amd64",
    "arm64",
]

def policy_engine_image(
        name,
        binary,
        policies,
        base = "@distroless_static",
        architectures = ARCHITECTURES,
        load_name = None,
        index_name = None,
        repo_tags = None,
        executable = "policy-engine",
        **kwargs):
    """Images of the engine for each Linux architecture, an index and a loadable tarball.

    Creates `<name>_labels` (the image labels, with version and commit stamped in release
    builds), `<name>_linux_<arch>` for every architecture (the binary is built for that
    platform through a transition, so a build on macOS still yields Linux binaries),
    `<name>` as the first architecture's image, `<index_name>` (an oci_image_index of all
    of them) and `<load_name>` (an oci_load tarball of `<name>` for `docker load`).

    Args:
      name: name of the default-architecture image.
      binary: the policy_engine_binary target.
      policies: "name:version" of every compiled-in policy, listed in an image label.
      base: the pulled base image; `<base>_linux_<arch>` must exist for every architecture.
      architectures: Go architectures to build; the first is the default image.
      load_name: name of the oci_load target; defaults to `<name>_load`.
      index_name: name of the oci_image_index target; defaults to `<name>_index`.
      repo_tags: tags for `docker load`; defaults to `policy-engine:latest`.
      executable: the binary's file name (policy_engine_binary's `out`); it runs as
        /app/<executable>.
      **kwargs: common attributes (tags, visibility) for every target.
    """
    labels_name = name + "_labels"
    expand_template(
        name = labels_name,
        out = labels_name + ".txt",
        stamp_substitutions = {
            REVISION_PLACEHOLDER: "{{STABLE_GIT_COMMIT}}",
            VERSION_PLACEHOLDER: "{{STABLE_BUILD_VERSION}}",
        },
        substitutions = {
            REVISION_PLACEHOLDER: "unknown",
            VERSION_PLACEHOLDER: "dev",
        },
        template = sorted([k + "=" + v for k, v in IMAGE_LABELS.items()] + [
            "org.opencontainers.image.revision=" + REVISION_PLACEHOLDER,
            "org.opencontainers.image.version=" + VERSION_PLACEHOLDER,
            LOADED_POLICIES_LABEL + "=" + LOADED_POLICIES_SEPARATOR.join(policies),
        ]),
        **kwargs
    )
    images = []
    for arch in architectures:
        platform = "linux_" + arch
        binary_name = "%s_binary_%s" % (name, platform)
        layer_name = "%s_layer_%s" % (name, platform)
        platform_transition_filegroup(
            name = binary_name,
            srcs = [binary],
            target_platform = Label("//rules:" + platform),
            **kwargs
        )

        # The layer's lines are spelled out: tar.bzl's `mutate` would build GNU awk from C
        # sources in the exec configuration, making a C compiler a build requirement.
        tar(
            name = layer_name,
            srcs = [binary_name],
            mtree = [
                IMAGE_APP_DIR.lstrip("/") + " uid=0 gid=0 mode=0755 time=0 type=dir",
                "%s/%s uid=0 gid=0 mode=0755 time=0 type=file content=$(execpath :%s)" % (IMAGE_APP_DIR.lstrip("/"), executable, binary_name),
            ],
            **kwargs
        )
        oci_image(
            name = "%s_%s" % (name, platform),
            base = "%s_%s" % (base, platform),
            cmd = [
                "--config",
                IMAGE_CONFIG_PATH,
            ],
            entrypoint = [IMAGE_APP_DIR + "/" + executable],
            exposed_ports = IMAGE_PORTS,
            labels = labels_name,
            tars = [layer_name],
            user = IMAGE_USER,
            workdir = IMAGE_APP_DIR,
            **kwargs
        )
        images.append("%s_%s" % (name, platform))

    native.alias(
        name = name,
        actual = images[0],
        **kwargs
    )
    oci_image_index(
        name = index_name or name + "_index",
        images = images,
        **kwargs
    )
    oci_load(
        name = load_name or name + "_load",
        image = name,
        repo_tags = repo_tags or ["policy-engine:latest"],
        **kwargs
    )
