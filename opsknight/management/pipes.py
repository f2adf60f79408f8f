"""Management commands whose output goes into a pipe: `manage.py webhooks_status | head`
stops quietly when the reader has read enough, as Unix tools do, not with a traceback."""

import os
import sys

from django.core.management.base import BaseCommand


class PipeFriendlyCommand(BaseCommand):
    def run_from_argv(self, argv):
        try:
            super().run_from_argv(argv)
            sys.stdout.flush()  # a late broken pipe shows here, not at interpreter exit
        except BrokenPipeError:
            # The reader is gone. Python flushes stdout again on exit: point it at /dev/null
            # so that flush cannot fail too (https://docs.python.org/3/library/signal.html#note-on-sigpipe).
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
