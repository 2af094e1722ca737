# One image for every service; the command picks it, e.g.
#   docker run IMAGE python -m services.api serve
# Build: docker build -t pypistats-next .
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --upgrade pip \
 && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENV=production \
    LOG_FORMAT=json \
    OPS_HOST=0.0.0.0
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && install -d -o 10001 -g 10001 /exports
# /exports: the bulk exports' mount point (EXPORT_DIR in docker-compose.yml); owned by the app user,
# so a named volume mounted there starts writable by it.
COPY --from=build /opt/venv /opt/venv
# The source tree too (templates, static files, SQL), run from /app; owned by root, read-only to the app user.
WORKDIR /app
COPY shared ./shared
COPY services ./services
USER 10001:10001
EXPOSE 8080 8081 8082 9101 9102
CMD ["python", "-m", "services.web", "serve"]
