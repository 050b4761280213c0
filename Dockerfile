# syntax=docker/dockerfile:1
# deploybot: the Slack app. Two stages: wheels are built where build tools exist; the final
# image only installs them, compiles the knowledge base, and runs as a non-root user.

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
# The same install the README shows (`pip install .`), into a prefix the final stage copies.
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEPLOYBOT_DATA_DIR=/var/lib/deploybot \
    DEPLOYBOT_KNOWLEDGE_DB=/opt/deploybot/knowledge.sqlite \
    DEPLOYBOT_CONFIG=/etc/deploybot/deploybot.yaml \
    DEPLOYBOT_LOG_FORMAT=json \
    PORT=3000
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 deploybot \
 && useradd --system --uid 10001 --gid deploybot --home-dir /var/lib/deploybot --shell /usr/sbin/nologin deploybot \
 && mkdir -p /opt/deploybot /var/lib/deploybot /etc/deploybot \
 && deploybot kb build \
 && chown -R deploybot:deploybot /var/lib/deploybot \
 && chmod -R a-w /opt/deploybot
USER 10001:10001
VOLUME ["/var/lib/deploybot"]
EXPOSE 3000
ENTRYPOINT ["deploybot", "serve"]
