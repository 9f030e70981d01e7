# One image for every service of the platform; the command picks the process:
#   python -m services.<name> api|worker      python -m shared.cli migrate <name>
# (deploy/k8s sets them as the container's args). Built with: docker build -t consular-platform .

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
WORKDIR /src
# The runtime dependencies from their lock file in hash-checking mode (a file whose sha256 is not in the lock is
# refused), then the project itself without resolving anything more. requirements.runtime.lock is the runtime part
# of requirements.lock, same pins and hashes (README, "Updating the lock file").
COPY pyproject.toml requirements.runtime.lock ./
RUN pip install --require-hashes -r requirements.runtime.lock
COPY shared ./shared
COPY services ./services
RUN pip install --no-deps .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HTTP_HOST=0.0.0.0
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
# The source tree as well: `python -m` runs from /app, so the SQL migrations, seed data and templates that sit
# beside the code are found where the code expects them. Owned by root, read-only for the service user.
WORKDIR /app
COPY shared ./shared
COPY services ./services
USER 10001:10001
ENTRYPOINT ["python"]
CMD ["-m", "shared.cli", "--help"]
