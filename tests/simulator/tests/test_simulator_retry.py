"""Retry a job: the new attempt, the old job's markers, rejections and how new attempts progress."""

import time
import uuid

import pytest

BUILD_101 = "/organizations/acme/pipelines/web/builds/101"
SIM_USER_ID = "0199a1b2-0000-4000-8000-000000000001"
ONLY_FAILED = {"message": "Only failed, timed out or canceled jobs can be retried"}


def org_retry(job_id):
    return f"/organizations/acme/jobs/{job_id}/retry"


def test_retry_returns_new_scheduled_job(api, aliases):
    old_id = aliases["flaky_test"]

    response = api.put(org_retry(old_id))

    assert response.status_code == 200
    job = response.json()
    assert job["id"] != old_id
    assert uuid.UUID(job["id"])
    assert job["state"] == "scheduled"
    assert job["type"] == "script"
    assert job["step_key"] == "unit"
    assert job["retries_count"] == 1
    assert job["retry_type"] == "manual"
    assert job["retry_source"] == {"job_id": old_id, "retry_type": "manual"}
    assert job["retried"] is False
    assert job["retried_in_job_id"] is None
    assert job["exit_status"] is None
    assert job["started_at"] is None
    assert job["finished_at"] is None


def test_retry_sets_retried_by_to_token_user(api, aliases):
    job = api.put(org_retry(aliases["flaky_test"])).json()

    assert job["retried_by"]["id"] == SIM_USER_ID
    assert job["retried_by"]["name"] == "Simulator User"
    assert set(job["retried_by"]) == {"id", "graphql_id", "name", "email", "avatar_url", "created_at"}


def test_retry_marks_old_job_retried(api, aliases):
    old_id = aliases["flaky_test"]
    new_id = api.put(org_retry(old_id)).json()["id"]

    old_job = api.get(f"/organizations/acme/jobs/{old_id}").json()

    assert old_job["retried"] is True
    assert old_job["retried_in_job_id"] == new_id
    assert old_job["state"] == "failed"


def test_retry_build_scoped_route(api, aliases):
    old_id = aliases["broken_test"]

    response = api.put(f"{BUILD_101}/jobs/{old_id}/retry")

    assert response.status_code == 200
    assert response.json()["retry_source"]["job_id"] == old_id


def test_retry_ignores_unknown_query_parameters(api, aliases):
    response = api.put(org_retry(aliases["flaky_test"]), params={"per_page": 100, "unexpected": "x"})

    assert response.status_code == 200


def test_retry_latest_of_chain_counts_attempts(api, aliases):
    response = api.put(org_retry(aliases["chain_latest"]))

    assert response.status_code == 200
    assert response.json()["retries_count"] == 3


@pytest.mark.parametrize("alias", ["chain_first", "chain_second"])
def test_retry_already_retried_job_rejected(api, aliases, alias):
    response = api.put(org_retry(aliases[alias]))

    assert response.status_code == 400
    assert response.json() == {"message": "Jobs can only be retried once"}


def test_retry_second_time_rejected_and_applied_once(api, control, aliases):
    first = api.put(org_retry(aliases["flaky_test"]))
    second = api.put(org_retry(aliases["flaky_test"]))

    assert first.status_code == 200
    assert second.status_code == 400
    assert second.json() == {"message": "Jobs can only be retried once"}
    assert control.job("flaky_test")["times_retried"] == 1


def test_retry_already_retried_status_configurable(api, control, aliases):
    control.configure(already_retried_status=422)

    response = api.put(org_retry(aliases["chain_first"]))

    assert response.status_code == 422
    assert response.json() == {"message": "Jobs can only be retried once"}


@pytest.mark.parametrize("alias", ["canceled_build_job", "canceled_build_failed_job"])
def test_retry_job_in_canceled_build_rejected(api, aliases, alias):
    response = api.put(org_retry(aliases[alias]))

    assert response.status_code == 422
    assert response.json() == {"message": "Jobs from canceled builds cannot be retried"}


@pytest.mark.parametrize("alias", ["running_job", "passed_job"])
def test_retry_unfinished_or_passed_job_rejected(api, control, aliases, alias):
    response = api.put(org_retry(aliases[alias]))

    assert response.status_code == 400
    assert response.json() == ONLY_FAILED
    assert control.job(alias)["times_retried"] == 0


def test_retry_scheduled_job_rejected(api, control, aliases):
    control.stop_clock()
    new_id = api.put(org_retry(aliases["flaky_test"])).json()["id"]

    response = api.put(org_retry(new_id))

    assert response.status_code == 400
    assert response.json() == ONLY_FAILED


@pytest.mark.parametrize("alias", ["failed_trigger", "release_wait", "release_gate"])
def test_retry_non_script_job_rejected(api, aliases, alias):
    response = api.put(org_retry(aliases[alias]))

    assert response.status_code == 400
    assert response.json() == ONLY_FAILED


@pytest.mark.parametrize("alias", ["rerunnable_passed_job", "timed_out_job", "canceled_job", "parallel_shard_1"])
def test_retry_accepted_states(api, aliases, alias):
    response = api.put(org_retry(aliases[alias]))

    assert response.status_code == 200
    assert response.json()["retry_source"]["job_id"] == aliases[alias]


def test_retry_needs_write_builds_scope(read_api, control, aliases):
    response = read_api.put(org_retry(aliases["flaky_test"]))

    assert response.status_code == 403
    assert response.json() == {"message": "Your access token doesn't have the write_builds scope"}
    assert control.job("flaky_test")["times_retried"] == 0


def test_retry_unknown_job_not_found(api):
    response = api.put(org_retry("0199a1b2-3000-4000-8000-00000000ffff"))

    assert response.status_code == 404
    assert response.json() == {"message": "No job found"}


def test_retry_job_of_other_build_not_found(api, aliases):
    response = api.put(f"/organizations/acme/pipelines/web/builds/100/jobs/{aliases['flaky_test']}/retry")

    assert response.status_code == 404
    assert response.json() == {"message": "No job found"}


def test_new_attempt_moves_through_states(api, control, aliases):
    control.stop_clock()
    new_id = api.put(org_retry(aliases["flaky_test"])).json()["id"]
    path = f"/organizations/acme/jobs/{new_id}"

    scheduled = api.get(path).json()
    control.advance(0.2)
    running = api.get(path).json()
    control.advance(0.5)
    finished = api.get(path).json()

    assert scheduled["state"] == "scheduled"
    assert scheduled["agent"] is None
    assert running["state"] == "running"
    assert running["started_at"] is not None
    assert running["agent"]["name"] == "sim-agent-1"
    assert running["exit_status"] is None
    assert finished["state"] == "passed"
    assert finished["exit_status"] == 0
    assert finished["finished_at"] is not None


def test_new_attempt_fails_as_scenario_says(api, control, aliases):
    control.stop_clock()
    new_id = api.put(org_retry(aliases["broken_test"])).json()["id"]
    control.advance(1)

    job = api.get(f"/organizations/acme/jobs/{new_id}").json()

    assert job["state"] == "failed"
    assert job["exit_status"] == 1


def test_last_attempt_outcome_repeats(api, control, aliases):
    control.stop_clock()
    second = api.put(org_retry(aliases["broken_test"])).json()["id"]
    control.advance(1)
    third = api.put(org_retry(second)).json()
    control.advance(1)

    job = api.get(f"/organizations/acme/jobs/{third['id']}").json()

    assert third["retries_count"] == 2
    assert job["state"] == "failed"


def test_chain_fourth_attempt_passes(api, control, aliases):
    control.stop_clock()
    new_id = api.put(org_retry(aliases["chain_latest"])).json()["id"]
    control.advance(1)

    assert api.get(f"/organizations/acme/jobs/{new_id}").json()["state"] == "passed"


def test_slow_attempt_keeps_running(api, control, aliases):
    control.stop_clock()
    new_id = api.put(org_retry(aliases["slow_retry"])).json()["id"]
    control.advance(600)
    still_running = api.get(f"/organizations/acme/jobs/{new_id}").json()
    control.advance(3600)
    finished = api.get(f"/organizations/acme/jobs/{new_id}").json()

    assert still_running["state"] == "running"
    assert finished["state"] == "passed"


def test_new_attempt_progresses_in_scaled_real_time(api, control, aliases):
    control.configure(time_scale=100)
    new_id = api.put(org_retry(aliases["flaky_test"])).json()["id"]
    time.sleep(0.05)

    assert api.get(f"/organizations/acme/jobs/{new_id}").json()["state"] == "passed"


def test_new_job_ids_repeat_after_reset(api, control, aliases):
    first_run = [api.put(org_retry(aliases[alias])).json()["id"] for alias in ("flaky_test", "broken_test")]
    control.reset("retry")
    second_run = [api.put(org_retry(aliases[alias])).json()["id"] for alias in ("flaky_test", "broken_test")]

    assert first_run == second_run
    assert first_run[0] != first_run[1]


def test_retry_parallel_job_keeps_its_group(api, aliases):
    original = api.get(f"/organizations/acme/jobs/{aliases['parallel_shard_1']}").json()

    job = api.put(org_retry(aliases["parallel_shard_1"])).json()

    assert job["step_key"] == "shards"
    assert job["step"]["id"] == original["step"]["id"]
    assert job["parallel_group_index"] == 0
    assert job["parallel_group_total"] == 2


def test_internal_view_counts_retries(api, control, aliases):
    api.put(org_retry(aliases["flaky_test"]))

    view = control.job(aliases["flaky_test"])

    assert view["times_retried"] == 1
    assert view["retried"] is True
    assert view["alias"] == "flaky_test"
    assert view["attempts"] == ["failed", "passed"]
