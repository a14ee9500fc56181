# One image for both processes; docker-compose.yml picks the command.
FROM node:20-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm run build -w @dormant/web && node scripts/build-apps.mjs
ENV HOST=0.0.0.0 DB_PATH=/data/dormant.db
EXPOSE 3000
CMD ["node", "apps/api/dist/index.js"]
