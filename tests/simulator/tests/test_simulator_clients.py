"""Requests shaped like other clients' requests: pybuildkite 1.3.0 sends per_page=100 on every request."""

import pytest
import requests

BUILD_101 = "/organizations/acme/pipelines/web/builds/101"
DEPLOY_42 = "/organizations/acme/pipelines/deploy/builds/42"


def pybuildkite_request(method, url, body=None, headers=None):
    """Send a request as pybuildkite 1.3.0's ``Client.request`` does.

    It adds ``per_page=100`` to the query of every request (PUT and DELETE too), passes the query
    as bytes, drops body keys whose value is None and sends the body as JSON.
    """
    headers = {**(headers or {}), "Authorization": "Bearer sim-token-full"}
    if body:
        body = {key: value for key, value in body.items() if value is not None}
    response = requests.request(method, url, headers=headers, params=b"per_page=100", json=body, timeout=10)
    response.raise_for_status()
    return response


@pytest.mark.parametrize(
    ("method", "path", "headers", "content_type"),
    [
        ("GET", BUILD_101, None, "application/json"),
        ("GET", f"{BUILD_101}/jobs", None, "application/json"),
        ("GET", f"{BUILD_101}/jobs/{{flaky_test}}", None, "application/json"),
        ("GET", f"{BUILD_101}/jobs/{{flaky_test}}/log", {"Accept": "text/html"}, "text/html"),
        ("GET", f"{BUILD_101}/jobs/{{flaky_test}}/log", {"Accept": "text/plain"}, "text/plain"),
        ("GET", f"{BUILD_101}/jobs/{{flaky_test}}/log", {"Accept": "application/json"}, "application/json"),
        ("GET", f"{BUILD_101}/jobs/{{flaky_test}}/env", None, "application/json"),
        ("PUT", f"{BUILD_101}/jobs/{{flaky_test}}/retry", None, "application/json"),
        ("DELETE", f"{BUILD_101}/jobs/{{flaky_test}}/log", None, None),
    ],
    ids=["get-build", "list-jobs", "get-job", "log-html", "log-text", "log-json", "env", "retry", "delete-log"],
)
def test_per_page_on_every_route(running_simulator, control, aliases, method, path, headers, content_type):
    url = running_simulator.url + path.format(**aliases)

    response = pybuildkite_request(method, url, headers=headers)

    entry = control.requests()[-1]
    assert entry["query"] == {"per_page": ["100"]}
    assert response.status_code in (200, 204)
    assert response.headers.get("Content-Type", "").split(";")[0] == (content_type or "")


def test_per_page_on_unblock(running_simulator, control):
    aliases = control.reset("deploy")["aliases"]
    control.stop_clock()
    control.advance(1.5)
    url = f"{running_simulator.url}{DEPLOY_42}/jobs/{aliases['gate']}/unblock"
    fields = {"release-name": "Flying Dolphin", "regions": "us-east-1"}

    response = pybuildkite_request("PUT", url, body={"fields": fields, "unblocker": None})

    assert response.json()["state"] == "unblocked"
    assert control.requests()[-1]["query"] == {"per_page": ["100"]}
