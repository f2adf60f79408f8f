"""The filter that keeps Celery's lines about the dispatcher out of the log, fed the
records Celery itself makes (celery.beat, celery.worker.strategy, celery.worker.request,
celery.app.trace), and the settings that attach it to the console handler."""

import logging

from django.conf import settings

from opsknight.logs import QuietPeriodicTasks

DISPATCH = "webhooks.tasks.dispatch_due_deliveries"


def record(logger: str, message: str, args, level=logging.INFO) -> logging.LogRecord:
    return logging.LogRecord(logger, level, __file__, 1, message, args, None)


def context(name: str, **more) -> dict:
    return {"id": "c0ffee", "name": name, "args": "()", "kwargs": "{}", **more}


def test_celerys_routine_lines_about_the_dispatcher_are_dropped():
    quiet = QuietPeriodicTasks(tasks=[DISPATCH])
    routine = [
        record("celery.beat", "Scheduler: Sending due task %s (%s)", ("dispatch-due-deliveries", DISPATCH)),
        record("celery.worker.strategy", "Task %(name)s[%(id)s] received", context(DISPATCH)),
        record("celery.worker.request", "Discarding revoked task: %s[%s]", (DISPATCH, "c0ffee")),
        record(
            "celery.app.trace",
            "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
            context(DISPATCH, return_value="0", runtime=0.01),
        ),
    ]
    for line in routine:
        assert line.getMessage()  # formats as Celery's would
        assert not quiet.filter(line), line.getMessage()


def test_other_tasks_errors_and_other_loggers_pass():
    quiet = QuietPeriodicTasks(tasks=[DISPATCH])
    kept = [
        record("celery.worker.strategy", "Task %(name)s[%(id)s] received", context("webhooks.tasks.deliver_batch")),
        record("celery.beat", "Scheduler: Sending due task %s (%s)", ("prune", "webhooks.tasks.prune_delivery_log")),
        record("celery.app.trace", "Task %(name)s[%(id)s] raised: %(exc)s", context(DISPATCH, exc="x"), logging.ERROR),
        record("webhooks.delivery.dispatcher", "Dispatcher: enqueued %d", (3,)),
        record("celery.worker", "ready.", None),
    ]
    for line in kept:
        assert quiet.filter(line), line.getMessage()


def test_the_console_handler_filters_the_dispatcher():
    assert "quiet_periodic_tasks" in settings.LOGGING["handlers"]["console"]["filters"]
    assert settings.LOGGING["filters"]["quiet_periodic_tasks"]["tasks"] == [DISPATCH]
    assert settings.CELERY_BEAT_SCHEDULE["dispatch-due-deliveries"]["task"] == DISPATCH
