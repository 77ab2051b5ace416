"""HTTP behaviour: keep-alive, Content-Length, unknown routes, wrong methods, HEAD and request bodies."""

import http.client
from urllib.parse import urlsplit

import pytest
import requests

BUILD_101 = "/organizations/acme/pipelines/web/builds/101"


def test_keep_alive_reuses_connection(api, control):
    for _request in range(3):
        api.get(BUILD_101)
    requests.get(f"{api.url}{BUILD_101}", headers={"Authorization": "Bearer sim-token-full"}, timeout=10)

    ports = [entry["client_port"] for entry in control.requests()]

    assert ports[0] == ports[1] == ports[2]
    assert ports[3] != ports[0]


def test_http_version_is_1_1(running_simulator, control):
    address = urlsplit(running_simulator.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.request("GET", f"/v2{BUILD_101}", headers={"Authorization": "Bearer sim-token-full"})

    response = connection.getresponse()
    response.read()

    assert response.version == 11
    assert response.getheader("Connection") is None
    connection.close()


@pytest.mark.parametrize("path", [BUILD_101, "/nowhere", "/organizations/acme/jobs/nope"])
def test_every_response_has_content_length(api, path):
    response = api.get(path)

    assert int(response.headers["Content-Length"]) == len(response.content)


@pytest.mark.parametrize("token", ["sim-token-full", None])
def test_unknown_route_not_found(api, token):
    response = api.get("/organizations/acme/unicorns", token=token)

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_path_outside_api_not_found(running_simulator, control):
    response = requests.get(f"{running_simulator.base_url}/v3/anything", timeout=10)

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_wrong_method_not_allowed(api, aliases):
    response = api.request("POST", f"/organizations/acme/jobs/{aliases['flaky_test']}/retry")

    assert response.status_code == 405
    assert response.json() == {"message": "Method Not Allowed"}
    assert response.headers["Allow"] == "PUT"


def test_head_returns_headers_only(api):
    get = api.get(BUILD_101)
    head = api.request("HEAD", BUILD_101)

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


def test_trailing_slash_accepted(api):
    assert api.get(f"{BUILD_101}/").status_code == 200


def test_json_content_type(api):
    assert api.get(BUILD_101).headers["Content-Type"] == "application/json; charset=utf-8"


def test_retry_with_body_keeps_connection_usable(api, control, aliases):
    api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry", json={"ignored": True})
    second = api.get(BUILD_101)

    ports = {entry["client_port"] for entry in control.requests()}
    assert second.status_code == 200
    assert len(ports) == 1


def test_chunked_request_body(control):
    def chunks():
        yield b'{"already_retried_status":'
        yield b" 422}"

    response = control.session.post(f"{control.url}/config", data=chunks(), timeout=10)

    assert response.status_code == 200
    assert response.json()["already_retried_status"] == 422
