# syntax=docker/dockerfile:1
# sidelight's container image: build with `docker build -t sidelight:0.1.0 .`
#
# Base: Node 24 LTS on Debian bookworm-slim rather than Alpine. glibc's resolver honours the
# search/ndots settings Kubernetes writes into resolv.conf and falls back to TCP for large DNS
# answers the way every upstream SDK expects; musl's differences there are a classic source of
# "works locally, fails in the cluster" for a proxy whose job is resolving upstream hosts. The
# size difference (~40 MB) is paid once per node, not per pod. Pin a digest in your own build.
ARG NODE_IMAGE=node:24-bookworm-slim

# build: esbuild bundles the sources and every dependency into dist/ (scripts/build.mjs); only dist/
# reaches the image: no node_modules, nothing the bundle would not run.
FROM ${NODE_IMAGE} AS build
WORKDIR /opt/sidelight
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN node scripts/build.mjs

# runtime: node + dist (the version is compiled in).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# A young generation of 8 MB semi-spaces instead of V8's 16: under saturating load RSS is ~10 MB
# lower (default config, Node 24: 122-126 -> 113-114 MB) for the same instructions per request
# (scavenges run twice as often and each copies as little: the survivors are the requests in
# flight). On Node 24 the flag costs nothing at start-up; on Node 20 it would (V8 rejects Node's
# embedded code cache when a heap flag changes its flag hash). The bench runs sidelight with this
# line when it runs on this image's Node line (bench/lib.mjs, imageNodeOptions).
ENV NODE_OPTIONS=--max-semi-space-size=8
WORKDIR /opt/sidelight
COPY --from=build /opt/sidelight/dist ./dist
RUN ln -s /opt/sidelight/dist/cli.js /usr/local/bin/sidelight
# V8's compiled code for the bundle, made here for this image's own Node (22.1+ reads
# NODE_COMPILE_CACHE; the entries are keyed by Node version and file contents): `check` loads the
# same modules as `run`, so a start reads their code instead of compiling ~700 KB of JavaScript
# (-20 to -30 ms to /live, bench/RESULTS.md). At run time Node only reads it, so a read-only root
# filesystem is fine; a miss just compiles as before.
ENV NODE_COMPILE_CACHE=/opt/sidelight/compile-cache
RUN node dist/cli.js check --config /dev/null > /dev/null
# Numeric, so runAsNonRoot can verify it without an /etc/passwd entry. sidelight writes nothing
# to disk (logs go to stdout), so the root filesystem can be read-only; /tmp is the only scratch.
USER 10001:10001
# ingress, egress (loopback by default: for the app in the same pod), admin
EXPOSE 15080 15081 15090
# No curl in slim images: node itself asks /live on the admin port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "require('node:http').get('http://127.0.0.1:15090/live', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
ENTRYPOINT ["sidelight"]
CMD ["run"]
