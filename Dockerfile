# syntax=docker/dockerfile:1
#
# The ferrolb images: one static binary, run as `ferrolb controller ...` or
# `ferrolb speaker ...` (see deploy/ferrolb.yaml), and the same binary in the two images
# MetalLB's own objects expect, whose entrypoints are `/controller` and `/speaker` (the
# binary runs the role it is named after; `/cp-tool` beside the speaker is what the FRR
# flavour's init containers call, and `/frr-reloader.sh` and `/frr-metrics`, which they copy
# into the FRR containers, are stand-ins, since ferrolb drives no FRR). See
# docs/operations.md, "Started as MetalLB's images start".
#
#   docker build -t ghcr.io/ferrolb/ferrolb:0.1.0 .                      # the last stage
#   docker build --target controller -t ghcr.io/ferrolb/controller:0.1.0 .
#   docker build --target speaker -t ghcr.io/ferrolb/speaker:0.1.0 .
#   docker buildx build --platform linux/amd64,linux/arm64 -t ... .
#
# The binary is linked statically against musl, so the final image needs no libc and holds
# nothing but the binary and distroless's CA certificates and /etc/passwd. Every TLS
# dependency is rustls with the ring provider (no OpenSSL); ring's C and assembly parts
# are built with musl-gcc.

FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
# The builder runs on the platform being built for (buildx emulates the others), so the
# target is this machine's architecture: x86_64 or aarch64.
RUN rustup target add "$(uname -m)-unknown-linux-musl"
WORKDIR /src
# Only what the workspace needs to build (.dockerignore keeps everything else out).
COPY Cargo.toml Cargo.lock ./
# jemalloc's options (built into the binary)
COPY .cargo ./.cargo
COPY crates ./crates
# Keep the symbol table (readable backtraces), drop the line tables the release profile keeps.
ENV CARGO_PROFILE_RELEASE_STRIP=debuginfo
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(uname -m)-unknown-linux-musl" \
 && cargo build --locked --release -p ferrolb --target "$target" \
 && cp "target/$target/release/ferrolb" /ferrolb \
 && /ferrolb --version \
 && mkdir -p /out/controller /out/speaker \
 && cp /ferrolb /out/controller/controller \
 && cp /ferrolb /out/speaker/speaker \
 && ln -s speaker /out/speaker/cp-tool \
 && ln -s speaker /out/speaker/frr-reloader.sh \
 && ln -s speaker /out/speaker/frr-metrics

# MetalLB's controller image, as its Deployment runs it: non-root.
FROM gcr.io/distroless/static-debian12:nonroot AS controller
COPY --from=build /out/controller/ /
USER 65534:65534
ENTRYPOINT ["/controller"]
LABEL org.opencontainers.image.title="ferrolb controller" \
      org.opencontainers.image.description="ferrolb's controller under MetalLB's controller entrypoint" \
      org.opencontainers.image.licenses="Apache-2.0"

# MetalLB's speaker image: root, as MetalLB's is; its DaemonSet grants NET_RAW only.
FROM gcr.io/distroless/static-debian12 AS speaker
COPY --from=build /out/speaker/ /
USER 0:0
ENTRYPOINT ["/speaker"]
LABEL org.opencontainers.image.title="ferrolb speaker" \
      org.opencontainers.image.description="ferrolb's speaker under MetalLB's speaker entrypoint" \
      org.opencontainers.image.licenses="Apache-2.0"

FROM gcr.io/distroless/static-debian12:nonroot AS ferrolb
COPY --from=build /ferrolb /ferrolb
# nobody. The controller runs as this user; the speaker's pod overrides it with uid 0 and
# the NET_RAW capability only, because raw ARP/NDP sockets need it.
USER 65534:65534
ENTRYPOINT ["/ferrolb"]
LABEL org.opencontainers.image.title="ferrolb" \
      org.opencontainers.image.description="Load balancer addresses for bare-metal Kubernetes: a drop-in MetalLB replacement" \
      org.opencontainers.image.licenses="Apache-2.0"
