# STAND-IN for the edoburu/pgbouncer image, for machines with no registry (CI):
# Debian bookworm's pgbouncer (1.18). Same contract: pgbouncer runs as uid 70 on
# the ini file compose names; pg_isready answers the healthcheck.
# Production pulls the image docker/compose.yaml names.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends pgbouncer postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 70 pgbouncer-app && useradd --uid 70 --gid 70 --no-create-home --shell /usr/sbin/nologin pgbouncer-app
ENV PATH=/usr/lib/postgresql/15/bin:$PATH
USER 70:70
EXPOSE 6432
ENTRYPOINT ["/usr/sbin/pgbouncer"]
