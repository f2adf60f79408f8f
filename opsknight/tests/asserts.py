"""Assertions shared by the API test suites."""


def assert_api_error(response, status: int, *, code: str | None = None) -> dict:
    """The response is `{"error": {"code", "message", "fields"}}` JSON with this status;
    returns the inner error object."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "fields"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    if code is not None:
        assert error["code"] == code, error
    return error
