# The service's image. Its steps are exactly the commands CI runs for the production boot (.ci/production-boot.sh):
# npm ci, npm run build, npm prune --omit=dev, then node dist/src/main.js on the pruned tree. CI cannot pull base
# images, so it runs those commands on a copy of the tree instead of building this file: keep the two in step.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 MAIL_OUTBOX_DIR=/app/var/outbox
WORKDIR /app
# Migrations run at boot from prisma/; the mail templates and static assets are read from templates/.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/templates ./templates
RUN mkdir -p var && chown node:node var
USER node
EXPOSE 3000
# Every role answers /health on PORT: the API through its HTTP application, ROLE=worker through its probe server.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.PORT + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
