# One image for web, worker and beat (see docker-compose.yml): the runtime lock only
# (requirements.txt); the test and development tools (requirements-dev.txt) stay out.
FROM python:3.13-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Google Cloud Storage emulated, for docker-compose's gcp-emulators profile only (its own
# image, built only when that profile asks for it), at the development lock's version.
FROM base AS gcs-emulator
COPY requirements-dev.txt .
RUN pip install -c requirements-dev.txt gcp-storage-emulator

# The application (the last stage: what `docker build .` and the compose app services build).
FROM base AS app

ENV DATA_DIR=/data

WORKDIR /app

# /data is owned by the app user so a fresh named volume mounted there is writable; the
# processes make their folders there when they first need them (the settings create nothing).
RUN useradd --create-home --uid 1000 app \
 && mkdir -p /data \
 && chown app:app /data

# Dependencies first, so code changes don't reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image at build time (STATIC_ROOT, /app/staticfiles;
# served by whitenoise). Nothing is written to /data here.
RUN DJANGO_SECRET_KEY=build python manage.py collectstatic --noinput

USER app
EXPOSE 8000

CMD ["gunicorn", "salesapp.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
