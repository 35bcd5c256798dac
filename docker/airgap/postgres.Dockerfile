# STAND-IN for the official postgres image, for machines with no registry (CI).
# Same env contract: POSTGRES_USER, POSTGRES_PASSWORD (or _FILE), POSTGRES_DB, PGDATA.
# Production uses the official image (see docker/compose.yaml).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# The postgres user and group get fixed ids (the ones Debian's package picked
# before) so USER can be numeric and existing data volumes stay readable.
RUN groupadd --system --gid 102 postgres \
    && useradd --system --uid 100 --gid postgres --home-dir /var/lib/postgresql \
       --no-create-home --shell /bin/bash --comment "PostgreSQL administrator" postgres
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql \
    && chmod 1777 /var/lib/postgresql/data
COPY docker/airgap/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER 100:102
EXPOSE 5432
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
CMD ["postgres"]
