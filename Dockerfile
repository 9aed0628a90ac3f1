# The flowsentry pipeline image: every stage, chosen by the command (`run`, later `ingest`, `enrich`, ...).
ARG NODE_VERSION=24
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --chown=node:node . .
USER node
ENTRYPOINT ["node", "bin/flowsentry.js"]
CMD ["run"]
