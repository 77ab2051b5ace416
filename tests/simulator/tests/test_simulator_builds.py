"""Get a build: latest attempts by default, include_retried_jobs, exclude_jobs, counts and derived state."""

BUILD_100 = "/organizations/acme/pipelines/web/builds/100"
BUILD_101 = "/organizations/acme/pipelines/web/builds/101"
DEPLOY_7 = "/organizations/acme/pipelines/deploy/builds/7"


def job_ids(build):
    return [job["id"] for job in build["jobs"]]


def test_get_build_returns_latest_attempts_only(api, aliases):
    build = api.get(BUILD_101).json()

    assert aliases["chain_latest"] in job_ids(build)
    assert aliases["chain_first"] not in job_ids(build)
    assert aliases["chain_second"] not in job_ids(build)
    assert all(job["retried"] is False for job in build["jobs"])
    assert len(build["jobs"]) == 12


def test_get_build_include_retried_jobs(api, aliases):
    build = api.get(BUILD_101, params={"include_retried_jobs": "true"}).json()
    ids = job_ids(build)

    assert len(ids) == 14
    assert ids.index(aliases["chain_first"]) < ids.index(aliases["chain_second"]) < ids.index(aliases["chain_latest"])


def test_get_build_hides_retried_job_after_retry(api, aliases):
    new_id = api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry").json()["id"]

    default = job_ids(api.get(BUILD_101).json())
    with_retried = job_ids(api.get(BUILD_101, params={"include_retried_jobs": "true"}).json())

    assert new_id in default
    assert aliases["flaky_test"] not in default
    assert with_retried.index(aliases["flaky_test"]) + 1 == with_retried.index(new_id)


def test_get_build_exclude_jobs(api):
    build = api.get(BUILD_101, params={"exclude_jobs": "true"}).json()

    assert "jobs" not in build
    assert build["job_state_counts"]["total"] == 12


def test_job_state_counts_follow_include_retried(api):
    latest = api.get(BUILD_101).json()["job_state_counts"]
    everything = api.get(BUILD_101, params={"include_retried_jobs": "true"}).json()["job_state_counts"]

    assert latest == {"total": 12, "states": {"canceled": 1, "failed": 6, "passed": 3, "running": 1, "timed_out": 1}}
    assert everything["total"] == 14
    assert everything["states"]["failed"] == 8


def test_get_build_job_states_filter(api):
    build = api.get(BUILD_101, params={"job_states[]": ["passed", "running"]}).json()

    assert sorted({job["state"] for job in build["jobs"]}) == ["passed", "running"]
    assert len(build["jobs"]) == 4


def test_build_fields(api):
    build = api.get(BUILD_101).json()

    assert build["id"] == "0199a1b2-2000-4000-8000-000000000101"
    assert build["number"] == 101
    assert build["url"].endswith("/v2/organizations/acme/pipelines/web/builds/101")
    assert build["url"].startswith(api.url)
    assert build["web_url"] == "https://buildkite.com/acme/web/builds/101"
    assert build["branch"] == "main"
    assert build["commit"] == "7c4a8d09ca3762af61e59520943dc26494f8941b"
    assert build["message"] == "Add the checkout page"
    assert build["creator"]["id"] == "0199a1b2-0000-4000-8000-000000000001"
    assert build["pipeline"]["slug"] == "web"
    assert all("group_key" in job for job in build["jobs"])


def test_get_build_exclude_pipeline(api):
    assert "pipeline" not in api.get(BUILD_101, params={"exclude_pipeline": "true"}).json()


def test_build_running_while_a_job_runs(api):
    build = api.get(BUILD_101).json()

    assert build["state"] == "running"
    assert build["finished_at"] is None
    assert build["blocked"] is False


def test_build_failed_once_jobs_finish(api, control):
    control.stop_clock()
    control.advance(86400)

    build = api.get(BUILD_101).json()

    assert build["state"] == "failed"
    assert build["finished_at"] is not None


def test_canceled_build_state(api):
    build = api.get(BUILD_100).json()

    assert build["state"] == "canceled"
    assert build["finished_at"] is not None


def test_blocked_build_keeps_state_and_sets_flag(api):
    build = api.get(DEPLOY_7).json()

    assert build["state"] == "passed"
    assert build["blocked"] is True


def test_build_state_follows_retry(api, control):
    control.reset("demo")
    control.stop_clock()
    path = "/organizations/acme/pipelines/shop/builds/1234"
    flaky_id = control.call("GET", "/scenario")["aliases"]["flaky_test"]

    before = api.get(path).json()["state"]
    api.put(f"/organizations/acme/jobs/{flaky_id}/retry")
    queued = api.get(path).json()["state"]
    control.advance(1)
    running = api.get(path).json()["state"]
    control.advance(2)
    after = api.get(path).json()["state"]

    assert before == "failed"
    assert queued == "running"
    assert running == "running"
    assert after == "passed"


def test_unknown_build_not_found(api):
    response = api.get("/organizations/acme/pipelines/web/builds/999")

    assert response.status_code == 404
    assert response.json() == {"message": "No build found"}


def test_unknown_pipeline_not_found(api):
    response = api.get("/organizations/acme/pipelines/nope/builds/101")

    assert response.status_code == 404
    assert response.json() == {"message": "No pipeline found"}


def test_unknown_organization_not_found(api):
    response = api.get("/organizations/globex/pipelines/web/builds/101")

    assert response.status_code == 404
    assert response.json() == {"message": "No organization found"}


def test_get_build_needs_read_builds_scope(api, control):
    control.add_token(token="sim-token-write-only", scopes=["write_builds"])

    response = api.get(BUILD_101, token="sim-token-write-only")

    assert response.status_code == 403
    assert response.json() == {"message": "Your access token doesn't have the read_builds scope"}
