# The `plane` image: every role (controller, drone, proxy) and the admin commands from one
# image, as Plane ships one `plane` binary (behaviour doc §11.3). Build with
#   docker build -t plane .
# and run e.g. `docker run --rm plane version` or `docker run plane controller --db URL`.

# Deno from npm (the npm package's install step puts the real binary in place).
FROM debian:bookworm-slim AS deno
ARG DENO_VERSION=2.9.6
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates nodejs npm \
  && npm install --global "deno@${DENO_VERSION}" \
  && cp "$(npm root --global)/deno/deno" /usr/local/bin/deno \
  && /usr/local/bin/deno --version

FROM debian:bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --user-group --home-dir /var/lib/plane --create-home plane
COPY --from=deno /usr/local/bin/deno /usr/local/bin/deno

WORKDIR /opt/plane
# Dependencies are cached in the image, exactly as deno.lock pins them; nothing is fetched at
# run time.
ENV DENO_DIR=/opt/plane/.deno \
  DENO_NO_UPDATE_CHECK=1 \
  NO_COLOR=1
COPY deno.json deno.lock ./
COPY . .
RUN deno install --frozen \
  && deno cache --frozen cli/main.ts controller/main.ts \
  && chown -R plane:plane /opt/plane/.deno

# The drone's state file lives here (mount a volume); the Docker runtime also needs the
# Docker socket (see docker-compose.yml).
VOLUME /var/lib/plane
USER plane
EXPOSE 8080 9090
ENTRYPOINT ["deno", "task", "plane"]
CMD ["help"]
