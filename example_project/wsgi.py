import os

from django.core.wsgi import get_wsgi_application

from petition_widget.middleware import RequestEncodingMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
# A Content-Type charset Django cannot decode with would be a 500 on every URL; this answers 400 first.
application = RequestEncodingMiddleware(get_wsgi_application())
