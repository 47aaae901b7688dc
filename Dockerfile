# syntax=docker/dockerfile:1
# Techpotli GraphQL server: a multi-stage build. The dependency layer is cached apart from the
# sources (it rebuilds only when Cargo.toml / Cargo.lock change); the runtime image is Debian slim
# with the one binary, CA certificates and a non-root user. Build: `docker build -t techpotli .`

ARG RUST_VERSION=1.95.0

FROM rust:${RUST_VERSION}-slim-bookworm AS build
# make: jemalloc (the server's allocator) is built from C sources by its configure + make.
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# 1. Dependencies only: the manifests and stub targets, so this layer is reused while only
#    sources change.
COPY Cargo.toml Cargo.lock rust-toolchain.toml build.rs ./
RUN mkdir -p src bench migrations tests/api \
    && echo 'fn main() {}' > src/main.rs \
    && touch tests/api/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > bench/jobs_bench.rs \
    && echo 'fn main() {}' > bench/conns.rs \
    && cargo build --release --locked --bin techpotli \
    && rm -rf src bench
# 2. The server itself (migrations and assets are compiled into the binary).
COPY migrations ./migrations
COPY src ./src
COPY bench/jobs_bench.rs bench/conns.rs ./bench/
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin techpotli \
    && cp target/release/techpotli /usr/local/bin/techpotli

FROM debian:bookworm-slim AS runtime
# CA roots unpinned on purpose: they must follow Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin techpotli \
    && mkdir -p /var/lib/techpotli/files \
    && chown techpotli /var/lib/techpotli/files
COPY --from=build /usr/local/bin/techpotli /usr/local/bin/techpotli
USER 10001
WORKDIR /var/lib/techpotli
ENV APP_ENV=production \
    BIND_ADDR=0.0.0.0:8080 \
    FILES_DIR=/var/lib/techpotli/files \
    LOG_FORMAT=json
EXPOSE 8080
# `techpotli health` asks the server's own /readyz (200 when PostgreSQL answers and it is not
# draining): no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["techpotli", "health"]
# SIGTERM drains (requests in flight, WebSockets, jobs) within SHUTDOWN_TIMEOUT_SECS (25 s), under
# Docker's default 10 s stop timeout only if set lower: `docker stop -t 30` or compose's
# stop_grace_period below.
STOPSIGNAL SIGTERM
ENTRYPOINT ["techpotli"]
CMD ["serve"]
