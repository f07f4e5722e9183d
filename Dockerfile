# One image for web, worker and beat (see docker-compose.yml).
FROM python:3.13-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data

WORKDIR /app

# /data is owned by the app user so a fresh named volume mounted there is writable.
RUN useradd --create-home --uid 1000 app \
 && mkdir -p /data \
 && chown app:app /data

# Dependencies first, so code changes don't reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files are baked into the image at build time (served by whitenoise).
# settings.STATIC_ROOT is $DATA_DIR/static, so they land in /data/static; a fresh
# named volume on /data starts as a copy of it (owned by app).
RUN DJANGO_SECRET_KEY=build python manage.py collectstatic --noinput \
 && chown -R app:app /data

USER app
EXPOSE 8000

CMD ["gunicorn", "salesapp.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
