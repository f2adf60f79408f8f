"""Log formatters (LOG_FORMAT): a JSON object per line for log shippers, or a readable
line. Both carry the structured fields a call passes in `extra=` (for example the
webhook attempt lines of webhooks.observability): JSON as keys, text as `key=value`.
And a filter that keeps Celery's routine lines about frequent periodic tasks out."""

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def extra_fields(record: logging.LogRecord) -> dict:
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD_ATTRIBUTES}


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": ..., "logger": ..., "message": ..., <extra fields>}`."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.fromtimestamp(record.created, UTC)
        line = {
            "time": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **extra_fields(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The usual `time level logger message` line, then the extra fields as `key=value`."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{key}={_text_value(value)}" for key, value in extra_fields(record).items())
        if not fields:
            return line
        first, newline, rest = line.partition("\n")  # keep a traceback below the fields
        return f"{first} {fields}{newline}{rest}"


def _text_value(value) -> str:
    if value is None:
        return "-"
    text = str(value)
    return json.dumps(text) if not text or any(c.isspace() or c in '"=' for c in text) else text


class QuietPeriodicTasks(logging.Filter):
    """Drops Celery's INFO lines about the given periodic tasks (beat sending one, a worker
    receiving it, discarding an expired one, its success): for a task run every few
    seconds that is dozens of lines a minute, burying the attempt lines. Such a task logs
    a line of its own when it did something; its warnings and errors still pass."""

    def __init__(self, tasks=()):
        super().__init__()
        self.tasks = frozenset(tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not record.name.startswith("celery"):
            return True
        args = record.args
        if isinstance(args, dict):  # celery.app.trace and the worker: a context dict
            names = {args.get("name")}
        elif isinstance(args, tuple):  # beat: (entry name, task name); an expired one: (task name, id)
            names = set(args)
        else:
            return True
        return not (names & self.tasks)
