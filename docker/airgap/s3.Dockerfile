# STAND-IN for SeaweedFS's S3 API, for machines with no registry (CI): moto's
# S3 server from PyPI, in memory. Same port (8333) and the same /healthz.
# Production uses SeaweedFS (see docker/compose.yaml).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
    && python3 -m venv /opt/s3 \
    && /opt/s3/bin/pip install --no-cache-dir --disable-pip-version-check "moto[server]==5.2.5"
COPY docker/airgap/s3_standin.py /opt/s3/s3_standin.py
RUN useradd --uid 10001 --user-group --no-create-home s3
USER 10001
EXPOSE 8333
# SeaweedFS's arguments from the compose file are accepted and ignored.
ENTRYPOINT ["/opt/s3/bin/python", "/opt/s3/s3_standin.py"]
