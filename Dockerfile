# The iotpipe image: one non-editable install of the project with its runtime
# dependencies only, serving every role of the deployment from the one `iotpipe` command:
#   ingest (default), sink, and one-shot commands (schemas push, topics ensure, keys, dlq, db).
#
#   docker build -t iotpipe .
#   docker run --rm iotpipe --help
#
# compose/docker-compose.yml builds it for the init, ingest and sink services.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a wheel of the project, installed with its runtime dependencies into a venv ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# What the wheel is built from (.dockerignore keeps the context to these).
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY compose/local ./compose/local
COPY compose/kafka-cluster.env ./compose/kafka-cluster.env
COPY generated ./generated
COPY iotpipe ./iotpipe
COPY ingest ./ingest
COPY sink ./sink
RUN python -m venv /opt/iotpipe \
 && /opt/iotpipe/bin/pip install .

# --- runtime: the venv, a non-root user and a state folder ---
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="iotpipe" \
      org.opencontainers.image.description="Contract-first IoT pipeline: ingest, sink and tools" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 iotpipe \
 && useradd --system --uid 10001 --gid iotpipe --home-dir /var/lib/iotpipe \
      --no-create-home --shell /usr/sbin/nologin iotpipe \
 && install -d -o iotpipe -g iotpipe -m 0700 /var/lib/iotpipe
COPY --from=build /opt/iotpipe /opt/iotpipe

# State (the ingest key file, hashes only) lives under /var/lib/iotpipe: mount a volume
# there to keep it. Services listen on every interface of the container; the
# endpoints (Kafka, registry, MongoDB) come from the environment, see compose/.
ENV PATH=/opt/iotpipe/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/var/lib/iotpipe \
    IOTPIPE_INGEST_HOST=0.0.0.0 \
    IOTPIPE_INGEST_KEYS_FILE=/var/lib/iotpipe/ingest-keys.json \
    IOTPIPE_SINK_HEALTH_HOST=0.0.0.0
USER iotpipe
WORKDIR /var/lib/iotpipe
VOLUME ["/var/lib/iotpipe"]
# ingest's API and the sink's /healthz + /metrics.
EXPOSE 8000 9108

# The default role is ingest, so the default check is ingest's liveness endpoint (the
# image has no curl: the standard library asks). compose overrides it for the sink and
# turns it off for one-shot commands.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["iotpipe"]
CMD ["ingest"]
