# guardduty-wodle beside a Wazuh manager: events go to analysisd's queue, a Unix datagram socket in
# /var/ossec/queue/sockets that the two containers share through a volume.
#
#   docker build -t guardduty-wodle .
#   docker run -d --name guardduty-wodle --restart unless-stopped --stop-timeout 30 \
#     -v wazuh-queue-sockets:/var/ossec/queue/sockets \
#     -v /etc/guardduty-wodle/ossec.conf:/etc/guardduty-wodle/ossec.conf:ro \
#     -v guardduty-state:/var/lib/guardduty-wodle \
#     -e AWS_REGION -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY \
#     guardduty-wodle
#
# The ossec.conf mounted here holds only the <wodle name="aws-s3"> block for the GuardDuty buckets;
# take those buckets out of the manager's own aws-s3 wodle, or every finding reaches Wazuh twice.
# The process runs as user wazuh, uid/gid 999 unless built with --build-arg WAZUH_UID=… WAZUH_GID=…:
# the gid must be the manager's wazuh group (the queue socket is srw-rw---- wazuh:wazuh), e.g.
#   docker exec <manager> id wazuh
# The entrypoint (config/docker-entrypoint.sh) supplies the default arguments --config
# /etc/guardduty-wodle/ossec.conf --state /var/lib/guardduty-wodle/state.db --metrics-port 9464
# --metrics-host 0.0.0.0, and anything after the image name is added to them: `docker run …
# guardduty-wodle --log-level debug` keeps them (a --config, --state or --metrics-host given there
# replaces that one default). The metrics port is the environment variable
# GUARDDUTY_WODLE_METRICS_PORT (default 9464; --metrics-port among the arguments is refused), which
# the HEALTHCHECK reads too, so that it asks the port the collector listens on:
#   docker run … -e GUARDDUTY_WODLE_METRICS_PORT=9500 -p 127.0.0.1:9500:9500 guardduty-wodle
# The subcommands get the image's --state (and --config): docker run --rm … guardduty-wodle status.
# --stop-timeout 30 leaves room for the 20 s in which objects in flight finish after SIGTERM.
# config/docker-compose.yml is the same as a compose file, with the manager.

FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# node-gyp builds against the image's own headers (/usr/local/include/node) instead of downloading them.
ENV npm_config_nodedir=/usr/local
WORKDIR /app
# Dependencies first, so that a change to the sources does not rebuild the native modules
# (better-sqlite3, unix-dgram, zlib-sync); npm rebuild runs their install scripts, not ours.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild
COPY tsconfig.json ./
COPY src ./src
# The build bundles the command line into one file (scripts/bundle.ts).
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ARG WAZUH_UID=999
ARG WAZUH_GID=999
# uid/gid 1000 belong to the image's node user, which is not used: make room for any choice.
RUN userdel --remove node 2>/dev/null; groupdel node 2>/dev/null; \
    groupadd --gid "${WAZUH_GID}" wazuh \
 && useradd --uid "${WAZUH_UID}" --gid wazuh --home-dir /home/wazuh --create-home --shell /usr/sbin/nologin wazuh \
 && mkdir -p /var/lib/guardduty-wodle /var/ossec/queue/sockets /etc/guardduty-wodle \
 && chown wazuh:wazuh /var/lib/guardduty-wodle && chmod 0700 /var/lib/guardduty-wodle \
 && chown root:wazuh /var/ossec/queue/sockets && chmod 0770 /var/ossec/queue/sockets
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config/docker-entrypoint.sh ./config/docker-entrypoint.sh
USER wazuh
VOLUME ["/var/lib/guardduty-wodle", "/var/ossec/queue/sockets"]
# The metrics port, read by both the entrypoint and the HEALTHCHECK (-e GUARDDUTY_WODLE_METRICS_PORT=N).
ENV GUARDDUTY_WODLE_METRICS_PORT=9464
EXPOSE 9464
# Healthy when /health answers 200 (it answers 503 when degraded), asked on the port the collector
# listens on. Node's own fetch: no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.GUARDDUTY_WODLE_METRICS_PORT || '9464') + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# The script adds the defaults and execs /app/dist/src/cli.js, whose shebang starts node with the
# collector's memory flags: node is then the process that receives SIGTERM. Run with sh, so that it
# needs no executable bit. The default arguments are the script's, not CMD's: CMD stays empty.
ENTRYPOINT ["/bin/sh", "/app/config/docker-entrypoint.sh"]
CMD []
