# One image for every Numécole component; compose.yaml picks the component with `command`.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events ./events
COPY infra ./infra
COPY services ./services
RUN pip install --no-cache-dir .
ENV NUMECOLE_LOG_FORMAT=json
USER nobody
ENTRYPOINT ["numecole"]
