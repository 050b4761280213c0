# syntax=docker/dockerfile:1
# deploybot: the Slack app. Two stages: wheels are built where build tools exist; the final
# image only installs them, compiles the knowledge base, and runs as a non-root user.

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
# pyproject.toml force-includes the chart's RBAC rules into the wheel (bot/_rbac-rules.yaml: `doctor`
# checks the bot's access against them); .dockerignore keeps the rest of helm/ out of the context.
COPY helm/deploybot/files/rbac-rules.yaml ./helm/deploybot/files/rbac-rules.yaml
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
 && chmod -R a+rX,a-w /opt/deploybot
# The compiled base is written by root through a private temporary file (mode 0600): a+rX makes it
# readable by uid 10001, a-w keeps it read-only. Unreadable, every start would rebuild it in memory.
USER 10001:10001
VOLUME ["/var/lib/deploybot"]
EXPOSE 3000
ENTRYPOINT ["deploybot", "serve"]
