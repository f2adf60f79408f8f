"""Errors that services raise and every interface (API, admin, commands) understands."""


class ConflictError(Exception):
    """The request is well-formed but clashes with the current state (HTTP 409)."""

    code = "conflict"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
