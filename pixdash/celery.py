import os

from celery import Celery

from pixdash.envfile import load_env_file

load_env_file()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pixdash.settings")

app = Celery("pixdash")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
