# The flowsentry pipeline image: every stage, chosen by the command (`collect`, `enrich`, `detect`,
# `respond`, `sink`, `inventory`, `run`, ...). The collector runs `conntrack` (read, and delete the
# entries of quarantined pods) and `nft` (denied packets), so both are in the image.
ARG NODE_VERSION=24
FROM node:${NODE_VERSION}-bookworm-slim
ENV NODE_ENV=production
RUN apt-get update \
 && apt-get install -y --no-install-recommends conntrack nftables \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --chown=node:node . .
USER node
ENTRYPOINT ["node", "bin/flowsentry.js"]
CMD ["run"]
