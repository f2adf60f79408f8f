"""The API's JSON parser: DRF's, with a bound on nesting, so a body nested thousands
deep is a 400 like any other malformed JSON rather than a RecursionError (a 500)."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# No request of this API needs more than a few levels (format_options and an alert's
# custom_details are the deepest); 64 leaves room for any real alert body while keeping
# every later walk of the data (validation, rendering, json.dumps) far from the
# interpreter's recursion limit.
MAX_JSON_DEPTH = 64


def json_depth_exceeds(data, limit: int) -> bool:
    """Whether `data` (parsed JSON) nests arrays and objects deeper than `limit`.
    Iterative: the check itself must not recurse."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class BoundedJSONParser(JSONParser):
    """JSON bodies nested at most MAX_JSON_DEPTH levels; deeper ones answer 400
    (`parse_error`), whether Python's decoder gave up (RecursionError) or not."""

    max_depth = MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        too_deep = ParseError(f"JSON parse error - the body is nested deeper than {self.max_depth} levels.")
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # The C decoder stops cleanly (Py_EnterRecursiveCall) far below a real stack
            # overflow, so catching it here is safe.
            raise too_deep from None
        if json_depth_exceeds(data, self.max_depth):
            raise too_deep
        return data
