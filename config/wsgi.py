"""The WSGI application. gunicorn loads it once in its master (``preload_app``) and forks the
workers from there, so whatever is imported here is shared by every worker instead of being
imported again by each on its first requests."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _load_lazily_imported_code() -> None:
    """Import now what Django and the HTTP client would import on a worker's first requests:
    every view and API module (the URL configuration) and the HTTP transport's modules (the
    Slurm client builds one on its first call). Measured under load, these first-request
    imports cost each worker about half a second and were the slowest requests of a burst.
    Nothing here opens a connection."""
    import httpx
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the property imports the URL configuration
    httpx.HTTPTransport().close()


_load_lazily_imported_code()
