"""Block steps: their job fields, step ordering, the unblock route, its rejections and faults."""

import json

import pytest
import requests

BUILD_42 = "/organizations/acme/pipelines/deploy/builds/42"
SIM_USER_ID = "0199a1b2-0000-4000-8000-000000000001"
RELEASE_USER_ID = "0199a1b2-0000-4000-8000-000000000002"
OUTSIDER_USER_ID = "0199a1b2-0000-4000-8000-000000000003"
RELEASE_TOKEN = "sim-token-release"
USER_KEYS = {"id", "graphql_id", "name", "email", "avatar_url", "created_at"}

VALID_FIELDS = {"release-name": "Flying Dolphin", "regions": "us-east-1\neu-west-1"}
NOT_A_BLOCK_JOB = {"message": "This job type cannot be unblocked"}
CANCELED_BUILD = {"message": "Jobs from canceled builds cannot be unblocked"}
NOT_BLOCKED = {"message": "The job's state must be blocked"}
NOT_UNBLOCKABLE = {"message": "This job cannot be unblocked until the steps before it have finished"}
BAD_UNBLOCKER = {"message": "Unblocker is not a valid user id for this organization"}

# A block step's fields for scenarios written by the tests.
TEXT_FIELD = {"text": "Release name", "key": "release-name", "format": "[a-z-]+"}
NOTES_FIELD = {"text": "Notes", "key": "notes", "required": False, "default": "none"}
SIZE_FIELD = {
    "select": "Size",
    "key": "size",
    "default": "small",
    "options": [{"label": "Small", "value": "small"}, {"label": "Large", "value": "large"}],
}
REGIONS_FIELD = {
    "select": "Regions",
    "key": "regions",
    "multiple": True,
    "default": ["us-east-1", "eu-west-1"],
    "options": [{"label": "US", "value": "us-east-1"}, {"label": "EU", "value": "eu-west-1"}],
}


def job_path(job_id):
    return f"/organizations/acme/jobs/{job_id}"


def unblock(api, job_id, body=None, **kwargs):
    return api.put(f"{job_path(job_id)}/unblock", json=body, **kwargs)


@pytest.fixture
def deploy(control):
    """Job UUIDs of the deploy scenario by alias, with the clock stopped."""
    aliases = control.reset("deploy")["aliases"]
    control.stop_clock()
    return aliases


@pytest.fixture
def gate(api, control, deploy):
    """The id of the deploy scenario's gate, once the tests before it have passed."""
    control.advance(1)
    return deploy["gate"]


def write_scenario(tmp_path, jobs, **build_changes):
    build = {
        "organization": "acme",
        "pipeline": "web",
        "number": 1,
        "id": "0199a1b2-2000-4000-8000-00000000c001",
        "created_seconds_ago": 3600,
        "jobs": jobs,
        **build_changes,
    }
    path = tmp_path / "blocks.json"
    path.write_text(json.dumps({"builds": [build]}))
    return str(path)


def job_spec(alias, number, **changes):
    return {"alias": alias, "id": f"0199a1b2-3000-4000-8000-00000000c{number:03d}", **changes}


def block_spec(alias, number, **changes):
    return job_spec(alias, number, type="manual", step_key=alias, name=f"Approve {alias}", **changes)


def load(control, tmp_path, jobs, **build_changes):
    aliases = control.reset(write_scenario(tmp_path, jobs, **build_changes))["aliases"]
    control.stop_clock()
    return aliases


# Block job fields and step ordering


def test_block_job_fields_while_waiting(api, deploy):
    job = api.get(job_path(deploy["gate"])).json()

    assert job["type"] == "manual"
    assert job["label"] == ":rocket: Deploy?"
    assert "name" not in job
    assert job["step_key"] == "deploy-gate"
    assert job["state"] == "blocked"
    assert job["unblockable"] is False
    assert job["unblocked_by"] is None
    assert job["unblocked_at"] is None
    assert job["log_url"] is None
    assert job["raw_log_url"] is None
    assert job["command"] is None
    assert job["web_url"] == f"https://buildkite.com/acme/deploy/builds/42#{deploy['gate']}"
    assert job["unblock_url"] == f"{api.url}{BUILD_42}/jobs/{deploy['gate']}/unblock"


def test_unblockable_after_earlier_steps(api, control, deploy):
    control.advance(0.9)
    before = api.get(job_path(deploy["gate"])).json()
    control.advance(0.1)
    after = api.get(job_path(deploy["gate"])).json()

    assert before["unblockable"] is False
    assert after["unblockable"] is True
    assert after["state"] == "blocked"


def test_slow_step_delays_unblockable(api, control, deploy):
    control.advance(3599)
    before = api.get(job_path(deploy["slow_gate"])).json()
    control.advance(1)
    after = api.get(job_path(deploy["slow_gate"])).json()

    assert before["unblockable"] is False
    assert after["unblockable"] is True


def test_job_after_block_step_waits(api, control, deploy):
    control.advance(600)

    job = api.get(job_path(deploy["deploy"])).json()

    assert job["state"] == "waiting"
    assert job["scheduled_at"] is None
    assert job["runnable_at"] is None
    assert job["started_at"] is None
    assert job["agent"] is None


def test_build_blocked_only_at_unblockable_step(api, control, deploy):
    running = api.get(BUILD_42).json()
    control.advance(1)
    blocked = api.get(BUILD_42).json()

    assert running["state"] == "running"
    assert running["blocked"] is False
    assert blocked["state"] == "passed"
    assert blocked["blocked"] is True
    assert blocked["meta_data"] == {}


def test_earlier_retry_makes_step_wait(api, control):
    aliases = control.reset("demo")["aliases"]
    control.stop_clock()
    before = api.get(job_path(aliases["deploy_gate"])).json()["unblockable"]

    api.put(f"{job_path(aliases['flaky_test'])}/retry")
    during = api.get(job_path(aliases["deploy_gate"])).json()["unblockable"]
    control.advance(3)
    after = api.get(job_path(aliases["deploy_gate"])).json()["unblockable"]

    assert before is True
    assert during is False
    assert after is True


@pytest.mark.parametrize(
    ("blocked_state", "build_state"), [("passed", "passed"), ("failed", "failed"), ("running", "running")]
)
def test_blocked_state_sets_build_state(api, control, tmp_path, blocked_state, build_state):
    load(control, tmp_path, [job_spec("unit", 1), block_spec("gate", 2, blocked_state=blocked_state)])

    build = api.get("/organizations/acme/pipelines/web/builds/1").json()

    assert build["state"] == build_state
    assert build["blocked"] is True


def test_second_block_step_waits_for_first(api, control, tmp_path):
    aliases = load(
        control,
        tmp_path,
        [
            block_spec("first", 1),
            job_spec("middle", 2, durations={"scheduled": 0, "running": 5}),
            block_spec("second", 3),
            job_spec("last", 4),
        ],
    )

    at_load = api.get(job_path(aliases["second"])).json()
    unblock(api, aliases["first"])
    middle_running = api.get(job_path(aliases["second"])).json()
    last_waiting = api.get(job_path(aliases["last"])).json()
    control.advance(5)
    middle_done = api.get(job_path(aliases["second"])).json()

    assert at_load["unblockable"] is False
    assert middle_running["unblockable"] is False
    assert last_waiting["state"] == "waiting"
    assert middle_done["unblockable"] is True


def test_released_wait_step_passes(api, control, tmp_path):
    aliases = load(control, tmp_path, [block_spec("gate", 1), job_spec("wait", 2, type="waiter"), job_spec("after", 3)])

    waiting = api.get(job_path(aliases["wait"])).json()
    unblock(api, aliases["gate"])
    released = api.get(job_path(aliases["wait"])).json()

    assert waiting["state"] == "waiting"
    assert released["state"] == "passed"


@pytest.mark.parametrize(
    ("number", "state", "blocked"),
    [
        (40, "canceled", False),
        (41, "passed", False),
        (42, "running", False),
        (43, "passed", True),
        (44, "running", False),
        (45, "failed", False),
    ],
)
def test_deploy_build_states(api, deploy, number, state, blocked):
    build = api.get(f"/organizations/acme/pipelines/deploy/builds/{number}").json()

    assert build["state"] == state
    assert build["blocked"] is blocked


def test_scenario_build_meta_data(api, control, tmp_path):
    load(control, tmp_path, [job_spec("unit", 1)], meta_data={"release-name": "Preset"})

    build = api.get("/organizations/acme/pipelines/web/builds/1").json()

    assert build["meta_data"] == {"release-name": "Preset"}


# Unblock: success


def test_unblock_returns_unblocked_job(api, control, gate):
    now = control.call("GET", "/clock")["now"]

    response = unblock(api, gate, {"fields": VALID_FIELDS})

    assert response.status_code == 200
    job = response.json()
    assert job["id"] == gate
    assert job["type"] == "manual"
    assert job["label"] == ":rocket: Deploy?"
    assert job["state"] == "unblocked"
    assert job["unblockable"] is False
    assert job["unblocked_at"] == now
    assert job["unblocked_by"]["id"] == SIM_USER_ID
    assert set(job["unblocked_by"]) == USER_KEYS
    assert job["web_url"] == f"https://buildkite.com/acme/deploy/builds/42#{gate}"


def test_unblock_build_scoped_route(api, gate):
    response = api.put(f"{BUILD_42}/jobs/{gate}/unblock", json={"fields": VALID_FIELDS})

    assert response.status_code == 200
    assert response.json()["state"] == "unblocked"


def test_unblock_state_persists(api, gate):
    unblock(api, gate, {"fields": VALID_FIELDS})

    job = api.get(job_path(gate)).json()

    assert job["state"] == "unblocked"
    assert job["unblocked_by"]["id"] == SIM_USER_ID
    assert job["unblockable"] is False


def test_unblock_releases_following_steps(api, control, deploy, gate):
    unblock(api, gate, {"fields": VALID_FIELDS})
    scheduled = api.get(job_path(deploy["deploy"])).json()
    build_while_queued = api.get(BUILD_42).json()
    control.advance(0.2)
    running = api.get(job_path(deploy["deploy"])).json()
    control.advance(1)
    passed = api.get(job_path(deploy["deploy"])).json()
    build_after = api.get(BUILD_42).json()

    assert scheduled["state"] == "scheduled"
    assert scheduled["scheduled_at"] is not None
    assert build_while_queued["state"] == "running"
    assert build_while_queued["blocked"] is False
    assert running["state"] == "running"
    assert running["agent"] is not None
    assert passed["state"] == "passed"
    assert passed["exit_status"] == 0
    assert build_after["state"] == "passed"
    assert build_after["blocked"] is False


def test_unblock_stores_fields_as_meta_data(api, gate):
    unblock(api, gate, {"fields": VALID_FIELDS})

    build = api.get(BUILD_42).json()

    assert build["meta_data"] == {"release-name": "Flying Dolphin", "regions": "us-east-1\neu-west-1"}


def test_unblock_joins_multi_select_array(api, gate):
    fields = {"release-name": "Flying Dolphin", "regions": ["us-east-1", "ap-southeast-2"]}

    response = unblock(api, gate, {"fields": fields})

    assert response.status_code == 200
    assert api.get(BUILD_42).json()["meta_data"]["regions"] == "us-east-1\nap-southeast-2"


def test_unblock_array_rejected_by_config(api, control, gate):
    control.configure(unblock_accepts_arrays=False)
    fields = {"release-name": "Flying Dolphin", "regions": ["us-east-1"]}

    response = unblock(api, gate, {"fields": fields})

    assert response.status_code == 422
    assert response.json() == {"message": 'Field "regions" must be a string with one value per line, got a JSON array'}
    assert control.job(gate)["state"] == "blocked"


def test_unblock_normalizes_line_endings(api, gate):
    unblock(api, gate, {"fields": {"release-name": "Flying Dolphin", "regions": "us-east-1\r\neu-west-1"}})

    assert api.get(BUILD_42).json()["meta_data"]["regions"] == "us-east-1\neu-west-1"


def test_unblock_stores_field_defaults(api, control, tmp_path):
    aliases = load(control, tmp_path, [block_spec("gate", 1, fields=[NOTES_FIELD, SIZE_FIELD, REGIONS_FIELD])])

    response = unblock(api, aliases["gate"])

    assert response.status_code == 200
    meta_data = api.get("/organizations/acme/pipelines/web/builds/1").json()["meta_data"]
    assert meta_data == {"notes": "none", "size": "small", "regions": "us-east-1\neu-west-1"}


def test_unblock_sent_values_replace_defaults(api, control, tmp_path):
    aliases = load(control, tmp_path, [block_spec("gate", 1, fields=[NOTES_FIELD, SIZE_FIELD])])

    unblock(api, aliases["gate"], {"fields": {"notes": "", "size": "large"}})

    meta_data = api.get("/organizations/acme/pipelines/web/builds/1").json()["meta_data"]
    assert meta_data == {"size": "large"}


def test_unblock_without_body(api, control, deploy):
    response = api.put(f"{job_path(deploy['guarded_gate'])}/unblock", token=RELEASE_TOKEN)

    assert response.status_code == 200
    assert response.json()["state"] == "unblocked"


def test_unblock_with_unblocker(api, gate):
    response = unblock(api, gate, {"unblocker": RELEASE_USER_ID, "fields": VALID_FIELDS})

    assert response.status_code == 200
    assert response.json()["unblocked_by"]["id"] == RELEASE_USER_ID
    assert response.json()["unblocked_by"]["name"] == "Release Manager"


def test_unblock_null_unblocker_means_token_user(api, gate):
    response = unblock(api, gate, {"unblocker": None, "fields": VALID_FIELDS})

    assert response.status_code == 200
    assert response.json()["unblocked_by"]["id"] == SIM_USER_ID


def test_unblock_block_step_of_retry_scenario(api, aliases):
    response = unblock(api, aliases["release_gate"])

    assert response.status_code == 200
    assert response.json()["state"] == "unblocked"


# Unblock: rejections


@pytest.mark.parametrize("alias", ["tests", "deploy", "failed_tests", "released_deploy"])
def test_unblock_non_block_job_rejected(api, control, deploy, alias):
    response = unblock(api, deploy[alias])

    assert response.status_code == 400
    assert response.json() == NOT_A_BLOCK_JOB
    assert control.job(alias)["state"] == api.get(job_path(deploy[alias])).json()["state"]


@pytest.mark.parametrize("alias", ["release_wait", "failed_trigger"])
def test_unblock_wait_and_trigger_jobs_rejected(api, aliases, alias):
    response = unblock(api, aliases[alias])

    assert response.status_code == 400
    assert response.json() == NOT_A_BLOCK_JOB


def test_unblock_canceled_build_rejected(api, control, deploy):
    response = unblock(api, deploy["canceled_gate"], {"fields": VALID_FIELDS})

    assert response.status_code == 422
    assert response.json() == CANCELED_BUILD
    assert control.job("canceled_gate")["state"] == "blocked"
    assert control.job("canceled_gate")["unblockable"] is False


def test_unblock_already_unblocked_rejected(api, control, deploy):
    response = unblock(api, deploy["released_gate"], {"fields": VALID_FIELDS})

    assert response.status_code == 400
    assert response.json() == NOT_BLOCKED
    assert control.job("released_gate")["times_unblocked"] == 1


def test_unblock_already_unblocked_status_configurable(api, control, deploy):
    control.configure(already_unblocked_status=422)

    response = unblock(api, deploy["released_gate"])

    assert response.status_code == 422
    assert response.json() == NOT_BLOCKED


def test_unblock_twice_applied_once(api, control, gate):
    first = unblock(api, gate, {"fields": VALID_FIELDS})
    second = unblock(api, gate, {"fields": VALID_FIELDS})

    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json() == NOT_BLOCKED
    assert control.job(gate)["times_unblocked"] == 1


def test_unblock_not_unblockable_rejected(api, control, deploy):
    response = unblock(api, deploy["gate"], {"fields": VALID_FIELDS})

    assert response.status_code == 422
    assert response.json() == NOT_UNBLOCKABLE
    assert control.job("gate")["state"] == "blocked"
    assert control.job("deploy")["state"] == "waiting"


def test_unblock_not_unblockable_configurable(api, control, deploy):
    control.configure(not_unblockable_status=409, not_unblockable_message="The build has not reached this step")

    response = unblock(api, deploy["slow_gate"], {"fields": VALID_FIELDS})

    assert response.status_code == 409
    assert response.json() == {"message": "The build has not reached this step"}


def test_unblock_team_not_allowed_forbidden(api, control, deploy):
    response = unblock(api, deploy["guarded_gate"])

    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}
    assert control.job("guarded_gate")["state"] == "blocked"


def test_unblock_allowed_team_member(api, control, deploy):
    response = unblock(api, deploy["guarded_gate"], token=RELEASE_TOKEN)

    assert response.status_code == 200
    assert response.json()["unblocked_by"]["id"] == RELEASE_USER_ID
    assert control.job("guarded_deploy")["state"] == "scheduled"


def test_unblock_allowed_team_of_control_token(api, control, deploy):
    user = {"id": "0199a1b2-0000-4000-8000-00000000cafe", "name": "Deploy Bot", "teams": ["release-managers"]}
    control.add_token(token="sim-token-bot", scopes=["write_builds"], user=user)

    response = unblock(api, deploy["guarded_gate"], token="sim-token-bot")

    assert response.status_code == 200
    assert response.json()["unblocked_by"]["name"] == "Deploy Bot"


def test_team_check_uses_token_user(api, deploy):
    response = unblock(api, deploy["guarded_gate"], {"unblocker": RELEASE_USER_ID})

    assert response.status_code == 403


@pytest.mark.parametrize(
    "unblocker",
    ["0199a1b2-0000-4000-8000-00000000ffff", OUTSIDER_USER_ID, "not-a-uuid", "", 42],
    ids=["unknown user", "user of other organization", "not a uuid", "empty", "number"],
)
def test_unblock_invalid_unblocker_rejected(api, control, gate, unblocker):
    response = unblock(api, gate, {"unblocker": unblocker, "fields": VALID_FIELDS})

    assert response.status_code == 422
    assert response.json() == BAD_UNBLOCKER
    assert control.job(gate)["times_unblocked"] == 0


def test_unblock_control_token_user_is_unblocker(api, control, gate):
    user = {"id": "0199a1b2-0000-4000-8000-00000000beef", "name": "Release Bot"}
    control.add_token(token="sim-token-bot", scopes=["read_builds"], user=user)

    response = unblock(api, gate, {"unblocker": user["id"], "fields": VALID_FIELDS})

    assert response.status_code == 200
    assert response.json()["unblocked_by"]["name"] == "Release Bot"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"regions": "us-east-1"}, 'Field "release-name" is required'),
        ({"release-name": "", "regions": "us-east-1"}, 'Field "release-name" is required'),
        ({"release-name": "Flying Dolphin", "regions": []}, 'Field "regions" is required'),
        ({}, 'Field "release-name" is required; Field "regions" is required'),
    ],
    ids=["missing", "empty string", "empty list", "both missing"],
)
def test_unblock_required_field_missing(api, control, gate, fields, message):
    response = unblock(api, gate, {"fields": fields})

    assert response.status_code == 422
    assert response.json() == {"message": message}
    assert control.job(gate)["state"] == "blocked"


def test_unblock_select_value_not_an_option(api, gate):
    response = unblock(api, gate, {"fields": {"release-name": "Flying Dolphin", "regions": "us-east-1\nmars-1"}})

    assert response.status_code == 422
    assert response.json() == {
        "message": 'Field "regions" has no option "mars-1" (options: us-east-1, eu-west-1, ap-southeast-2)'
    }


def test_unblock_single_select_takes_one_value(api, control, tmp_path):
    aliases = load(control, tmp_path, [block_spec("gate", 1, fields=[SIZE_FIELD])])

    response = unblock(api, aliases["gate"], {"fields": {"size": "small\nlarge"}})

    assert response.status_code == 422
    assert response.json() == {"message": 'Field "size" has no option "small\\nlarge" (options: small, large)'}


def test_unblock_text_fails_format(api, gate):
    response = unblock(api, gate, {"fields": {"release-name": "!bad", "regions": "us-east-1"}})

    assert response.status_code == 422
    assert response.json() == {
        "message": 'Field "release-name" value "!bad" does not match the format \'[A-Za-z0-9][A-Za-z0-9 ._-]*\''
    }


def test_unblock_format_anchored_at_both_ends(api, control, tmp_path):
    aliases = load(control, tmp_path, [block_spec("gate", 1, fields=[TEXT_FIELD])])

    partial = unblock(api, aliases["gate"], {"fields": {"release-name": "abc DEF"}})
    full = unblock(api, aliases["gate"], {"fields": {"release-name": "abc-def"}})

    assert partial.status_code == 422
    assert full.status_code == 200


def test_unblock_unknown_field_key(api, gate):
    response = unblock(api, gate, {"fields": {**VALID_FIELDS, "colour": "red"}})

    assert response.status_code == 422
    assert response.json() == {
        "message": 'Field "colour" is not a field of this block step (fields: release-name, regions)'
    }


def test_unblock_field_for_step_without_fields(api, deploy):
    response = unblock(api, deploy["guarded_gate"], {"fields": {"colour": "red"}}, token=RELEASE_TOKEN)

    assert response.status_code == 422
    assert response.json() == {"message": 'Field "colour" is not a field of this block step (it has no fields)'}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, 'Field "release-name" must be a string, got 42'),
        (None, 'Field "release-name" must be a string, got null'),
        (["Flying Dolphin"], 'Field "release-name" takes one value, got a JSON array'),
    ],
    ids=["number", "null", "list"],
)
def test_unblock_text_value_not_string(api, gate, value, message):
    response = unblock(api, gate, {"fields": {"release-name": value, "regions": "us-east-1"}})

    assert response.status_code == 422
    assert response.json() == {"message": message}


@pytest.mark.parametrize("body", ["[]", '"deploy"', "42", "null"])
def test_unblock_body_not_object(api, control, gate, body):
    response = api.put(f"{job_path(gate)}/unblock", data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json() == {"message": "The request body must be a JSON object"}
    assert control.job(gate)["state"] == "blocked"


def test_unblock_invalid_json_body(api, gate):
    response = api.put(f"{job_path(gate)}/unblock", data="{fields", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]


def test_unblock_fields_not_object(api, gate):
    response = unblock(api, gate, {"fields": ["release-name"]})

    assert response.status_code == 400
    assert response.json() == {"message": "fields must be a JSON object of field keys to values, got list"}


@pytest.mark.parametrize(
    ("alias", "body", "expected"),
    [
        ("failed_tests", {"fields": {"colour": "red"}}, (400, NOT_A_BLOCK_JOB)),
        ("canceled_gate", {"unblocker": "nobody"}, (422, CANCELED_BUILD)),
        ("released_gate", {"unblocker": "nobody"}, (400, NOT_BLOCKED)),
        ("slow_gate", {"unblocker": "nobody"}, (422, NOT_UNBLOCKABLE)),
        ("guarded_gate", {"unblocker": "nobody"}, (403, {"message": "Forbidden"})),
        ("gate", {"unblocker": "nobody", "fields": {}}, (422, BAD_UNBLOCKER)),
    ],
    ids=["type first", "canceled build", "state", "unblockable", "allowed teams", "unblocker before fields"],
)
def test_unblock_check_order(api, control, deploy, alias, body, expected):
    control.advance(1)

    response = unblock(api, deploy[alias], body)

    expected_status, expected_body = expected
    assert response.status_code == expected_status
    assert response.json() == expected_body


def test_unblock_needs_write_builds_scope(read_api, control, gate):
    response = read_api.put(f"{job_path(gate)}/unblock", json={"fields": VALID_FIELDS})

    assert response.status_code == 403
    assert response.json() == {"message": "Your access token doesn't have the write_builds scope"}
    assert control.job(gate)["times_unblocked"] == 0


def test_unblock_wrong_method(api, gate):
    response = api.get(f"{job_path(gate)}/unblock")

    assert response.status_code == 405
    assert response.headers["Allow"] == "PUT"


def test_unblock_unknown_job_not_found(api, deploy):
    response = unblock(api, "0199a1b2-3000-4000-8000-00000000ffff")

    assert response.status_code == 404
    assert response.json() == {"message": "No job found"}


def test_unblock_job_of_other_build_not_found(api, deploy):
    response = api.put(f"{BUILD_42}/jobs/{deploy['released_gate']}/unblock")

    assert response.status_code == 404
    assert response.json() == {"message": "No job found"}


def test_rejected_unblock_changes_nothing(api, control, gate):
    unblock(api, gate, {"fields": {"release-name": "Flying Dolphin"}})

    view = control.job(gate)

    assert view["state"] == "blocked"
    assert view["times_unblocked"] == 0
    assert view["unblock_fields"] is None
    assert api.get(BUILD_42).json()["meta_data"] == {}


# Already unblocked by the scenario


def test_scenario_unblocked_job_fields(api, deploy):
    job = api.get(job_path(deploy["released_gate"])).json()

    assert job["state"] == "unblocked"
    assert job["unblockable"] is False
    assert job["unblocked_by"]["id"] == RELEASE_USER_ID
    assert job["unblocked_at"] is not None


def test_scenario_unblocked_build_meta_data(api, deploy):
    build = api.get("/organizations/acme/pipelines/deploy/builds/41").json()

    assert build["meta_data"] == {"release-name": "Flying Dolphin", "regions": "us-east-1\neu-west-1"}
    assert build["state"] == "passed"
    assert build["blocked"] is False


# Faults: the unblock applies, the response is lost or replaced


def test_apply_then_drop_unblocks(api, control, gate):
    control.add_faults({"method": "PUT", "path": "/unblock$", "action": "apply_then_drop"})

    with pytest.raises(requests.exceptions.ConnectionError):
        unblock(api, gate, {"fields": VALID_FIELDS})

    assert control.job(gate)["state"] == "unblocked"
    assert control.job(gate)["times_unblocked"] == 1
    assert unblock(api, gate, {"fields": VALID_FIELDS}).json() == NOT_BLOCKED


def test_apply_then_status_unblocks(api, control, gate):
    control.add_faults({"method": "PUT", "path": "/unblock$", "action": "apply_then_status", "status": 502})

    response = unblock(api, gate, {"fields": VALID_FIELDS})

    assert response.status_code == 502
    assert control.job(gate)["state"] == "unblocked"
    assert control.requests()[-1]["route"] == "unblock_job"


def test_apply_then_delay_unblocks(api, control, gate):
    control.add_faults({"method": "PUT", "path": "/unblock$", "action": "apply_then_delay", "seconds": 0.3})

    with pytest.raises(requests.exceptions.ReadTimeout):
        unblock(api, gate, {"fields": VALID_FIELDS}, timeout=0.1)

    assert control.job(gate)["state"] == "unblocked"


def test_status_fault_does_not_unblock(api, control, gate):
    control.add_faults({"method": "PUT", "path": "/unblock$", "action": "status", "status": 503})

    response = unblock(api, gate, {"fields": VALID_FIELDS})

    assert response.status_code == 503
    assert control.job(gate)["state"] == "blocked"
    assert control.job(gate)["times_unblocked"] == 0


# Control API


def test_internal_view_reports_unblock(api, control, gate):
    fields = {"release-name": "Flying Dolphin", "regions": ["us-east-1", "eu-west-1"]}
    unblock(api, gate, {"fields": fields})

    view = control.job("gate")

    assert view["times_unblocked"] == 1
    assert view["unblock_fields"] == fields
    assert view["unblockable"] is False
    assert view["job"]["state"] == "unblocked"


def test_internal_view_describes_block_step(control, deploy):
    view = control.job("gate")

    assert view["block"]["prompt"] == "Deploy this release?"
    assert view["block"]["blocked_state"] == "passed"
    assert view["block"]["allowed_teams"] == []
    assert [field["key"] for field in view["block"]["fields"]] == ["release-name", "regions"]
    assert view["block"]["fields"][1]["multiple"] is True
    assert view["times_unblocked"] == 0
    assert view["unblock_fields"] is None


def test_internal_view_of_waiting_job(control, deploy):
    view = control.job("deploy")

    assert view["waits_for_block"] is True
    assert view["block"] is None
    assert view["unblockable"] is False


def test_request_log_names_unblock_route(api, control, gate):
    unblock(api, gate, {"fields": VALID_FIELDS})

    [entry] = control.requests()

    assert entry["route"] == "unblock_job"
    assert entry["status"] == 200
    assert json.loads(entry["body"]) == {"fields": VALID_FIELDS}


@pytest.mark.parametrize(
    "changes",
    [
        {"already_unblocked_status": 409},
        {"not_unblockable_status": 500},
        {"not_unblockable_status": True},
        {"not_unblockable_message": ""},
        {"unblock_accepts_arrays": "no"},
    ],
)
def test_unblock_config_rejects_invalid(control, changes):
    response = control.session.post(f"{control.url}/config", json=changes, timeout=10)

    assert response.status_code == 400
    assert response.json()["message"]


# The demo scenario's story


def test_demo_story_retry_unblock_deploy(api, control):
    aliases = control.reset("demo")["aliases"]
    control.stop_clock()
    build_path = "/organizations/acme/pipelines/shop/builds/1234"

    api.put(f"{job_path(aliases['flaky_test'])}/retry")
    control.advance(3)
    blocked = api.get(build_path).json()
    response = unblock(api, aliases["deploy_gate"], {"fields": VALID_FIELDS})
    control.advance(3)
    finished = api.get(build_path).json()

    assert blocked["state"] == "passed"
    assert blocked["blocked"] is True
    assert response.status_code == 200
    assert finished["state"] == "passed"
    assert finished["blocked"] is False
    assert finished["meta_data"] == VALID_FIELDS
    assert api.get(job_path(aliases["deploy"])).json()["state"] == "passed"
