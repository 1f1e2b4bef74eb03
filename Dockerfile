# One image for every Python service of docker-compose.yml (api, worker-io, worker-nlp,
# beat); the command picks the role.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY workers ./workers
RUN pip install ".[distributed,elasticsearch,opensearch]"
COPY config ./config

RUN useradd --system --home-dir /app newswire
USER newswire

CMD ["newswire", "--help"]
