#!/usr/bin/env python
"""Run the receiver: `python manage.py runserver 127.0.0.1:8001` (development) or
`gunicorn receiver_site.wsgi` (production)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "receiver_site.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
