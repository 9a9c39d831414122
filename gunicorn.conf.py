"""gunicorn settings for Najda: ``gunicorn -c gunicorn.conf.py`` in a checkout.

The settings live in the package (:mod:`najda.web.gunicorn_conf`), so an installed
Najda serves the same way: ``gunicorn -c python:najda.web.gunicorn_conf``.
"""

from najda.web.gunicorn_conf import *  # noqa: F403
