# The OpsKnight webhooks image: the web service (gunicorn), the Celery worker and Celery
# beat all run from it; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files for the admin and the API docs, served by WhiteNoise. The secret key is
# a build-time placeholder: settings refuse to load without one, and nothing signed
# here outlives the build. Deployments pass their own DJANGO_SECRET_KEY.
RUN DJANGO_SECRET_KEY=collectstatic-build-only python manage.py collectstatic --noinput -v0

# Run as an unprivileged user; var/ holds Celery beat's schedule file, var/prometheus
# the workers' metric files (settings create it, as root, during the build above).
RUN useradd --system --uid 10001 --no-create-home --home-dir /app opsknight \
    && mkdir -p /app/var/prometheus \
    && chown opsknight /app/var /app/var/prometheus
USER opsknight

EXPOSE 8000
CMD ["gunicorn", "opsknight.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "8", "--worker-class", "gthread", "--access-logfile", "-", "--no-control-socket"]
