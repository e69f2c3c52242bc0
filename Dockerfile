# First working image: builds the native modules inside, runs as a non-root user.
# Run it beside a Wazuh manager, sharing the analysisd queue socket:
#   docker run -v /var/ossec/queue/sockets:/var/ossec/queue/sockets \
#              -v /var/ossec/etc/ossec.conf:/var/ossec/etc/ossec.conf:ro \
#              -v guardduty-state:/var/ossec/var/guardduty-wodle guardduty-wodle
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
COPY scripts ./scripts
RUN npm ci && npx tsc -p . && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
RUN mkdir -p /var/ossec/var/guardduty-wodle && chown node:node /var/ossec/var/guardduty-wodle
USER node
VOLUME ["/var/ossec/var/guardduty-wodle"]
ENTRYPOINT ["/app/dist/src/cli.js"]
