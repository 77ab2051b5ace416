"""The error that route handlers raise to send a JSON error response."""


class ApiError(Exception):
    """An HTTP error response with Buildkite's body shape, ``{"message": ...}`` plus optional extra keys."""

    def __init__(self, status, message, extra_body=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra_body = extra_body or {}
        self.headers = headers or {}

    def body(self):
        return {"message": self.message, **self.extra_body}
