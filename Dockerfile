# Frontdesk gateway. Node 24 runs the TypeScript sources directly (type stripping): no build step.
FROM node:24-bookworm-slim

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    FRONTDESK_MLLP_HOST=0.0.0.0 \
    FRONTDESK_MLLP_PORT=2575 \
    FRONTDESK_DATA_DIR=/var/lib/frontdesk

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY src ./src
COPY migrations ./migrations
COPY mappings ./mappings
COPY profiles ./profiles
COPY bin ./bin
COPY scripts ./scripts

RUN mkdir -p /var/lib/frontdesk && chown node:node /var/lib/frontdesk
USER node

EXPOSE 8080 2575
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node is PID 1's child-free main process and receives SIGTERM for the graceful stop.
CMD ["node", "src/main.ts"]
