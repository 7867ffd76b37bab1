# syntax=docker/dockerfile:1
# The chat server as a container: Bun compiles the single executable, which then runs alone on a
# distroless base (glibc only, no shell, no package manager) as a non-root user.
#   docker build -t chat-server .
#   docker run -d --name chat -p 8000:8000 -v chat-data:/data chat-server
# Settings are CHAT_* variables (docker run -e CHAT_METRICS_TOKEN=...); see `chat-server --help`.
# Backup while it runs: docker exec chat chat-server backup /data/backup-$(date +%F).db
ARG BUN_VERSION=1.4.5

FROM oven/bun:${BUN_VERSION} AS build
WORKDIR /src
COPY package.json bun.lock ./
RUN bun install --frozen-lockfile
COPY . .
# Fails the image build if the binary does not start.
RUN bun run build dist/chat-server \
 && ./dist/chat-server --version \
 && mkdir -p /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/chat-server /usr/local/bin/chat-server
# The volume's mount point, owned by the image's non-root user so a fresh named volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
ENV CHAT_DATA_DIR=/data \
    CHAT_HOST=0.0.0.0 \
    CHAT_PORT=8000
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8000
# No curl in a distroless image: the binary probes its own /health.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/chat-server", "healthcheck"]
# SIGTERM drains (sockets get 1001, queued messages are written); give it time before SIGKILL:
# docker stop -t 20 chat
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chat-server"]
CMD ["serve"]
