"""Injected faults: each action, matching by method and path, countdown, listing and logging."""

import time

import pytest
import requests

BUILD_101 = "/organizations/acme/pipelines/web/builds/101"
RETRY_PATH = r"/retry$"


def retry_path(aliases, alias="flaky_test"):
    return f"/organizations/acme/jobs/{aliases[alias]}/retry"


def test_status_fault_with_json_body_and_headers(api, control, aliases):
    control.add_faults(
        {
            "method": "PUT",
            "path": RETRY_PATH,
            "action": "status",
            "status": 503,
            "body": {"message": "Service Unavailable"},
            "headers": {"Retry-After": "7"},
        }
    )

    response = api.put(retry_path(aliases))

    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}
    assert response.headers["Retry-After"] == "7"
    assert response.headers["Content-Type"].startswith("application/json")
    assert control.job("flaky_test")["times_retried"] == 0


def test_status_fault_with_html_page(api, control):
    page = "<html><body><h1>504 Gateway Time-out</h1></body></html>"
    control.add_faults(
        {"path": "builds/101$", "action": "status", "status": 504, "body": page, "content_type": "text/html"}
    )

    response = api.get(BUILD_101)

    assert response.status_code == 504
    assert response.text == page
    assert response.headers["Content-Type"] == "text/html"
    assert "RateLimit-Remaining" not in response.headers


def test_status_fault_with_empty_body(api, control):
    control.add_faults({"action": "status", "status": 502})

    response = api.get(BUILD_101)

    assert response.status_code == 502
    assert response.content == b""
    assert response.headers["Content-Length"] == "0"


def test_delay_fault_lets_client_time_out(api, control):
    control.add_faults({"path": "builds/101$", "action": "delay", "seconds": 0.5})

    with pytest.raises(requests.exceptions.ReadTimeout):
        api.get(BUILD_101, timeout=0.1)


def test_delay_fault_then_responds_normally(api, control):
    control.add_faults({"path": "builds/101$", "action": "delay", "seconds": 0.2})
    started = time.monotonic()

    response = api.get(BUILD_101)

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2
    assert response.json()["number"] == 101


def test_drop_fault_closes_without_response(api, control, aliases):
    control.add_faults({"method": "PUT", "path": RETRY_PATH, "action": "drop"})

    with pytest.raises(requests.exceptions.ConnectionError):
        api.put(retry_path(aliases))

    assert control.job("flaky_test")["times_retried"] == 0
    [entry] = control.requests()
    assert entry["status"] is None
    assert entry["fault"]["action"] == "drop"


def test_reset_mid_response_fault_applies_and_cuts(api, control, aliases):
    control.add_faults({"method": "PUT", "path": RETRY_PATH, "action": "reset_mid_response"})

    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        api.put(retry_path(aliases))

    assert control.job("flaky_test")["times_retried"] == 1


def test_apply_then_drop_fault_retries_job(api, control, aliases):
    control.add_faults({"method": "PUT", "path": RETRY_PATH, "action": "apply_then_drop"})

    with pytest.raises(requests.exceptions.ConnectionError):
        api.put(retry_path(aliases))

    view = control.job("flaky_test")
    assert view["times_retried"] == 1
    assert view["retried_in_job_id"] is not None
    [entry] = control.requests()
    assert entry["status"] is None
    assert entry["route"] == "retry_job"


def test_apply_then_status_fault_retries_job(api, control, aliases):
    control.add_faults(
        {"method": "PUT", "path": RETRY_PATH, "action": "apply_then_status", "status": 502, "body": "Bad Gateway"}
    )

    response = api.put(retry_path(aliases))

    assert response.status_code == 502
    assert response.text == "Bad Gateway"
    assert control.job("flaky_test")["times_retried"] == 1


def test_apply_then_delay_fault_retries_job(api, control, aliases):
    control.add_faults({"method": "PUT", "path": RETRY_PATH, "action": "apply_then_delay", "seconds": 0.5})

    with pytest.raises(requests.exceptions.ReadTimeout):
        api.put(retry_path(aliases), timeout=0.1)

    assert control.job("flaky_test")["times_retried"] == 1


def test_truncated_json_fault(api, control):
    control.add_faults({"path": "builds/101$", "action": "truncated_json"})

    response = api.get(BUILD_101)

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_non_json_fault(api, control, aliases):
    control.add_faults({"method": "PUT", "path": RETRY_PATH, "action": "non_json"})

    response = api.put(retry_path(aliases))

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")
    assert control.job("flaky_test")["times_retried"] == 0


def test_redirect_fault(api, control):
    location = "http://127.0.0.1:9/v2/organizations/acme/pipelines/web/builds/101"
    control.add_faults({"path": "builds/101$", "action": "redirect", "status": 307, "location": location})

    response = api.get(BUILD_101, allow_redirects=False)

    assert response.status_code == 307
    assert response.headers["Location"] == location


def test_fault_times_counts_down(api, control):
    control.add_faults({"path": "builds/101$", "action": "status", "status": 500, "times": 2})

    statuses = [api.get(BUILD_101).status_code for _request in range(3)]

    assert statuses == [500, 500, 200]
    assert control.call("GET", "/faults") == {"faults": []}


def test_fault_list_shows_remaining(control):
    control.add_faults({"path": "x", "action": "status", "status": 500, "times": 3})

    [fault] = control.call("GET", "/faults")["faults"]

    assert fault["times"] == 3
    assert fault["action"] == "status"
    assert fault["path"] == "x"


def test_fault_without_limit(api, control):
    control.add_faults({"path": "builds/101$", "action": "status", "status": 500, "times": None})

    statuses = [api.get(BUILD_101).status_code for _request in range(4)]

    assert statuses == [500] * 4
    assert control.call("GET", "/faults")["faults"][0]["times"] is None


def test_fault_matches_method(api, control, aliases):
    control.add_faults({"method": "GET", "path": RETRY_PATH, "action": "status", "status": 500})

    response = api.put(retry_path(aliases))

    assert response.status_code == 200
    assert len(control.call("GET", "/faults")["faults"]) == 1


def test_fault_matches_path(api, control, aliases):
    control.add_faults({"path": "/jobs/", "action": "status", "status": 500})

    build = api.get(BUILD_101)
    job = api.get(f"/organizations/acme/jobs/{aliases['flaky_test']}")

    assert build.status_code == 200
    assert job.status_code == 500


def test_faults_apply_in_order(api, control):
    control.add_faults({"action": "status", "status": 500}, {"action": "status", "status": 503})

    statuses = [api.get(BUILD_101).status_code for _request in range(3)]

    assert statuses == [500, 503, 200]


def test_faults_clear(api, control):
    control.add_faults({"action": "status", "status": 500, "times": None})

    control.call("DELETE", "/faults")

    assert api.get(BUILD_101).status_code == 200


def test_fault_recorded_in_request_log(api, control):
    control.add_faults({"path": "builds/101$", "action": "status", "status": 503})

    api.get(BUILD_101)
    api.get(BUILD_101)

    first, second = control.requests()
    assert first["status"] == 503
    assert first["fault"]["action"] == "status"
    assert first["fault"]["status"] == 503
    assert second["fault"] is None


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "explode"},
        {"action": "status"},
        {"action": "status", "status": 700},
        {"action": "delay"},
        {"action": "redirect"},
        {"action": "drop", "path": "("},
        {"action": "drop", "times": 0},
        {"action": "drop", "colour": "red"},
    ],
    ids=[
        "unknown action",
        "no status",
        "bad status",
        "no seconds",
        "no location",
        "bad regex",
        "zero times",
        "unknown key",
    ],
)
def test_invalid_fault_rejected(control, fault):
    response = control.session.post(f"{control.url}/faults", json={"faults": [fault]}, timeout=10)

    assert response.status_code == 400
    assert response.json()["message"]
    assert control.call("GET", "/faults") == {"faults": []}


def test_reset_mid_response_announces_close(api, control, aliases):
    log_path = f"/organizations/acme/jobs/{aliases['flaky_test']}/log"
    control.add_faults({"method": "HEAD", "path": "/log$", "action": "reset_mid_response"})

    response = api.head(log_path)

    assert response.status_code == 200
    assert response.headers["Connection"] == "close"
    assert api.delete(log_path).status_code == 204
    assert [entry["method"] for entry in control.requests()] == ["HEAD", "DELETE"]
