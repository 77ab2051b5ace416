"""The control API: reset, scenario, request log, config, tokens, clock and job internals."""

import json

import pytest

BUILD_101 = "/organizations/acme/pipelines/web/builds/101"


def test_reset_returns_aliases_and_builds(control):
    body = control.reset("retry")

    assert body["scenario"] == "retry"
    assert body["aliases"]["flaky_test"] == "0199a1b2-3000-4000-8000-000000000001"
    assert len(body["aliases"]) == 19
    numbers = [(build["pipeline"], build["number"]) for build in body["builds"]]
    assert numbers == [("web", 100), ("web", 101), ("deploy", 7)]
    build = body["builds"][1]
    assert build["organization"] == "acme"
    assert build["url"].endswith("/v2/organizations/acme/pipelines/web/builds/101")
    assert build["jobs"][0] == {
        "alias": "flaky_test",
        "id": "0199a1b2-3000-4000-8000-000000000001",
        "type": "script",
        "step_key": "unit",
        "state": "failed",
        "retried": False,
    }


def test_get_scenario_matches_reset(control):
    assert control.call("GET", "/scenario") == control.reset("retry")


def test_reset_loads_other_scenario(control):
    body = control.reset("demo")

    assert body["scenario"] == "demo"
    assert set(body["aliases"]) == {"build", "flaky_test", "lint", "deploy_gate", "deploy"}


def test_reset_unknown_scenario_rejected(control):
    response = control.session.post(f"{control.url}/reset", json={"scenario": "nope"}, timeout=10)

    assert response.status_code == 400
    assert "unknown scenario 'nope'" in response.json()["message"]
    assert control.call("GET", "/scenario")["scenario"] == "retry"


def test_reset_loads_scenario_file(control, tmp_path):
    scenario = {
        "builds": [
            {
                "organization": "initech",
                "pipeline": "tps",
                "number": 1,
                "id": "0199a1b2-2000-4000-8000-00000000a001",
                "jobs": [{"alias": "report", "id": "0199a1b2-3000-4000-8000-00000000a001", "state": "failed"}],
            }
        ]
    }
    path = tmp_path / "initech.json"
    path.write_text(json.dumps(scenario))

    body = control.reset(str(path))

    assert body["scenario"] == "initech"
    assert body["aliases"] == {"report": "0199a1b2-3000-4000-8000-00000000a001"}


def test_reset_applies_config_in_the_same_request(control):
    control.session.post(f"{control.url}/reset", json={"scenario": "deploy", "config": {"time_scale": 0}}, timeout=10)

    assert control.call("GET", "/scenario")["scenario"] == "deploy"
    assert control.call("GET", "/config")["time_scale"] == 0
    assert control.call("GET", "/clock")["time_scale"] == 0


def test_reset_rejects_invalid_config_and_keeps_the_scenario(control):
    response = control.session.post(
        f"{control.url}/reset", json={"scenario": "deploy", "config": ["time_scale"]}, timeout=10
    )

    assert response.status_code == 400
    assert "config must be a JSON object" in response.json()["message"]
    assert control.call("GET", "/scenario")["scenario"] == "retry"

    response = control.session.post(
        f"{control.url}/reset", json={"scenario": "deploy", "config": {"time_scale": "fast"}}, timeout=10
    )

    assert response.status_code == 400
    assert "time_scale" in response.json()["message"]
    assert control.call("GET", "/scenario")["scenario"] == "retry"


def test_reset_restores_jobs_config_and_faults(api, control, aliases):
    api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry")
    control.configure(already_retried_status=422, rate_limit={"user": 1})
    control.add_faults({"action": "drop", "path": "never"})

    control.reset("retry")

    assert control.job("flaky_test")["retried"] is False
    assert control.call("GET", "/config") == {
        "already_retried_status": 400,
        "already_unblocked_status": 400,
        "not_unblockable_status": 422,
        "not_unblockable_message": "This job cannot be unblocked until the steps before it have finished",
        "unblock_accepts_arrays": True,
        "deleted_log_response": "not_found",
        "max_rendered_log_bytes": 67108864,
        "rate_limit": {"enabled": True, "org": 200, "user": 50, "window": 60.0},
        "time_scale": 1.0,
    }
    assert control.call("GET", "/faults") == {"faults": []}
    assert control.requests() == []


def test_request_log_records_request(api, control, aliases):
    api.get(f"{BUILD_101}/jobs", params={"per_page": 5, "state[]": ["failed", "passed"]}, headers={"X-Trace": "abc"})

    [entry] = control.requests()

    assert entry["method"] == "GET"
    assert entry["path"] == f"/v2{BUILD_101}/jobs"
    assert entry["query"] == {"per_page": ["5"], "state[]": ["failed", "passed"]}
    assert entry["headers"]["Authorization"] == "<redacted>"
    assert entry["headers"]["X-Trace"] == "abc"
    assert isinstance(entry["client_port"], int)
    assert entry["status"] == 200
    assert entry["fault"] is None
    assert entry["route"] == "list_jobs"
    assert entry["seq"] >= 1
    assert isinstance(entry["time"], float)


def test_request_log_never_contains_token(api, control):
    api.get(BUILD_101)

    assert "sim-token-full" not in json.dumps(control.requests())


def test_request_log_without_authorization(api, control):
    api.get(BUILD_101, token=None)

    [entry] = control.requests()
    assert "Authorization" not in entry["headers"]
    assert entry["status"] == 401


def test_request_log_keeps_order(api, control, aliases):
    api.get(BUILD_101)
    api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry")

    entries = control.requests()

    assert [(entry["method"], entry["route"]) for entry in entries] == [("GET", "get_build"), ("PUT", "retry_job")]
    assert entries[0]["seq"] < entries[1]["seq"]


def test_request_log_clear(api, control):
    api.get(BUILD_101)

    control.call("DELETE", "/requests")

    assert control.requests() == []


def test_control_requests_not_logged(control):
    control.call("GET", "/config")
    control.call("GET", "/scenario")

    assert control.requests() == []


def test_config_round_trip(control):
    config = control.configure(already_retried_status=422, time_scale=2.5)

    assert config["already_retried_status"] == 422
    assert config["time_scale"] == 2.5
    assert control.call("GET", "/config") == config


@pytest.mark.parametrize("changes", [{"already_retried_status": 409}, {"time_scale": -1}, {"colour": "blue"}])
def test_config_rejects_invalid(control, changes):
    response = control.session.post(f"{control.url}/config", json=changes, timeout=10)

    assert response.status_code == 400
    assert response.json()["message"]


def test_add_token_returns_token_without_secret(control):
    body = control.add_token(token="sim-token-new", scopes=["read_builds"], organizations=["acme"])

    assert body["scopes"] == ["read_builds"]
    assert body["organizations"] == ["acme"]
    assert body["user"]["id"] == "0199a1b2-0000-4000-8000-000000000001"
    assert "sim-token-new" not in json.dumps(body)


@pytest.mark.parametrize(
    "spec",
    [
        {"token": "x", "scopes": ["read_everything"]},
        {"scopes": ["read_builds"]},
        {"token": "x", "organizations": "acme"},
    ],
    ids=["unknown scope", "missing token", "organizations not a list"],
)
def test_add_token_rejects_invalid(control, spec):
    response = control.session.post(f"{control.url}/tokens", json=spec, timeout=10)

    assert response.status_code == 400
    assert response.json()["message"]


def test_clock_advance(control):
    control.stop_clock()
    before = control.call("GET", "/clock")

    after = control.advance(90)

    assert after["epoch"] - before["epoch"] == pytest.approx(90)
    assert after["advanced_seconds"] - before["advanced_seconds"] == pytest.approx(90)
    assert after["time_scale"] == 0


def test_clock_rejects_negative_advance(control):
    response = control.session.post(f"{control.url}/clock", json={"advance": -5}, timeout=10)

    assert response.status_code == 400


def test_clock_sets_time_scale(control):
    body = control.call("POST", "/clock", {"time_scale": 10})

    assert body["time_scale"] == 10
    assert control.call("GET", "/config")["time_scale"] == 10


def test_job_internals_by_alias_and_id(control, aliases):
    by_alias = control.job("chain_first")
    by_id = control.job(aliases["chain_first"])

    assert by_alias == by_id
    assert by_alias["times_retried"] == 1
    assert by_alias["retried_in_job_id"] == aliases["chain_second"]
    assert by_alias["attempt"] == 0
    assert by_alias["job"]["id"] == aliases["chain_first"]


def test_job_internals_unknown_job(control):
    response = control.session.get(f"{control.url}/jobs/nobody", timeout=10)

    assert response.status_code == 404


def test_unknown_control_route(control):
    response = control.session.get(f"{control.url}/teleport", timeout=10)

    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_control_rejects_invalid_json(control):
    response = control.session.post(f"{control.url}/config", data="{not json", timeout=10)

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
