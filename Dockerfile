# chunkcached and the chunkcache CLI on Debian 12, running as the non-root user 10001.
#
#   docker build -t chunkcache .
#   podman build --format docker -t chunkcache .    # --format docker keeps the HEALTHCHECK
#
# README.md, "Run with Docker", shows how to run it.

# ---- build: the same preset as the README, without tests and benchmarks ----
FROM debian:bookworm-slim AS build
WORKDIR /src
# Only the dependency script first, so that this layer stays cached while the sources change.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
# Marks the layers that change with every source change, so that old ones can be pruned
# (`podman image prune --filter label=io.chunkcache.stage=build`) without losing the dependency layer above.
LABEL io.chunkcache.stage=build
COPY . .
# ccache keeps its objects in a cache mount shared by every build on this machine: after a
# source change only the changed files are compiled again.
ENV CCACHE_DIR=/root/.cache/ccache CCACHE_MAXSIZE=2G
RUN --mount=type=cache,target=/root/.cache/ccache,id=chunkcache-ccache \
    cmake --preset default -DCHUNKCACHE_BUILD_TESTS=OFF -DCHUNKCACHE_BUILD_BENCH=OFF >/dev/null \
 && cmake --build --preset default --target chunkcached chunkcache \
 && ccache --show-stats \
 && mkdir -p /out \
 && strip --strip-debug -o /out/chunkcached build/bin/chunkcached \
 && strip --strip-debug -o /out/chunkcache build/bin/chunkcache

# ---- runtime: the shared libraries the two binaries link, and nothing to build with ----
FROM debian:bookworm-slim
# The packages of every library `ldd` lists for chunkcached and chunkcache (libc6, libgcc-s1,
# libstdc++6 and zlib1g are already in the base image).
RUN apt-get update -q >/dev/null \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates \
      libabsl20220623 libc-ares2 libcivetweb1 libfmt9 libgrpc++1.51 libgrpc29 libnghttp2-14 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libprotobuf32 libre2-9 \
      libspdlog1.10 libssl3 libstdc++6 libzstd1 zlib1g >/dev/null \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/* /var/log/apt /var/log/dpkg.log

# The Helm chart runs the pod as 10001:10001; the image uses the same numeric user so that
# Kubernetes' runAsNonRoot can verify it.
RUN groupadd --gid 10001 chunkcache \
 && useradd --uid 10001 --gid 10001 --home-dir /var/cache/chunkcache --no-create-home \
      --shell /usr/sbin/nologin chunkcache \
 && mkdir -p /var/cache/chunkcache /etc/chunkcache /datastores \
 && chown 10001:10001 /var/cache/chunkcache && chmod 0750 /var/cache/chunkcache

COPY --from=build /out/chunkcached /out/chunkcache /usr/local/bin/

# Last, so that a new revision does not invalidate the layers above.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="chunkcache" \
      org.opencontainers.image.description="Shared, verified cache of Proxmox Backup Server chunks for restore agents: chunkcached (gRPC service) and the chunkcache CLI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

USER 10001:10001
WORKDIR /var/cache/chunkcache
VOLUME ["/var/cache/chunkcache"]
# gRPC (ChunkCache, grpc.health.v1.Health, reflection) and Prometheus /metrics.
EXPOSE 7070 9470

# grpc.health.v1.Health through the CLI: healthy while every datastore is readable (service
# ""; `--service liveness` would ask only whether the process answers). Set
# CHUNKCACHE_GRPC_PORT when --listen uses another port, and CHUNKCACHE_HEALTH_FLAGS for a
# TLS listener (e.g. "--tls --ca /etc/chunkcache/tls/ca.crt --tls-server-name NAME").
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD chunkcache health --server "127.0.0.1:${CHUNKCACHE_GRPC_PORT:-7070}" --deadline 4s \
      $CHUNKCACHE_HEALTH_FLAGS >/dev/null || exit 1

# SIGTERM drains calls in flight for shutdown_grace_seconds (10 s by default) and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["chunkcached"]
# Listens on every interface of the container. chunkcached refuses to do so unless the config
# file authenticates clients (`clients`, TLS) or --allow-unauthenticated-remote is given, so an
# image started without a config serves nobody by accident. Flags override the file.
CMD ["--config", "/etc/chunkcache/config.json", "--listen", "0.0.0.0:7070", "--metrics-listen", "0.0.0.0:9470"]
