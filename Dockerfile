# One image for every Python service of docker-compose.yml (api, worker-io, worker-nlp,
# beat, and the demo profile's sites); the command picks the role. The models are
# inside: spaCy's en_core_web_sm comes in as a pip dependency and the NER, stance and
# sentiment weights as package data, so nothing is downloaded when a container starts.
# PYTHON_IMAGE: any image with python and pip on PATH (scripts/deploy-test builds a
# local stand-in from Debian's packages where no registry is reachable).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

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
