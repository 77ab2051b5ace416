"""Get a job (both route forms) and list a build's jobs with cursor pagination and filters."""

import base64
import re
from urllib.parse import parse_qs, urlsplit

import pytest

BUILD_101 = "/organizations/acme/pipelines/web/builds/101"
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

# Job keys from Buildkite's job data model, for command (script) jobs.
SCRIPT_JOB_KEYS = {
    "id",
    "graphql_id",
    "type",
    "name",
    "step_key",
    "step",
    "priority",
    "agent_query_rules",
    "state",
    "soft_failed",
    "exit_status",
    "signal",
    "signal_reason",
    "broken_reason",
    "build_url",
    "web_url",
    "log_url",
    "raw_log_url",
    "artifacts_url",
    "command",
    "created_at",
    "scheduled_at",
    "runnable_at",
    "started_at",
    "finished_at",
    "expired_at",
    "concurrency_wait_time_ms",
    "retried",
    "retried_in_job_id",
    "retries_count",
    "retry_type",
    "retry_source",
    "retried_by",
    "parallel_group_index",
    "parallel_group_total",
    "matrix",
    "agent",
    "cluster_id",
    "cluster_url",
    "cluster_queue_id",
    "cluster_queue_url",
}


def test_get_job_by_organization(api, aliases):
    response = api.get(f"/organizations/acme/jobs/{aliases['flaky_test']}")

    assert response.status_code == 200
    assert response.json()["id"] == aliases["flaky_test"]
    assert response.json()["state"] == "failed"


def test_get_job_by_build_matches_organization_form(api, aliases):
    by_build = api.get(f"{BUILD_101}/jobs/{aliases['flaky_test']}").json()
    by_organization = api.get(f"/organizations/acme/jobs/{aliases['flaky_test']}").json()

    assert by_build == by_organization


def test_job_has_every_documented_field(api, aliases):
    job = api.get(f"/organizations/acme/jobs/{aliases['flaky_test']}").json()

    assert SCRIPT_JOB_KEYS <= set(job)
    assert "group_key" not in job
    assert job["step"] == {"id": job["step"]["id"], "signature": None}
    assert job["priority"] == {"number": 0}
    assert job["agent_query_rules"] == ["queue=default"]


def test_job_urls(api, aliases):
    job_id = aliases["flaky_test"]
    job = api.get(f"/organizations/acme/jobs/{job_id}").json()
    build_url = f"{api.url}{BUILD_101}"

    assert api.url.startswith("http://127.0.0.1:")
    assert job["build_url"] == build_url
    assert job["log_url"] == f"{build_url}/jobs/{job_id}/log"
    assert job["raw_log_url"] == f"{build_url}/jobs/{job_id}/log.txt"
    assert job["artifacts_url"] == f"{build_url}/jobs/{job_id}/artifacts"
    assert job["web_url"] == f"https://buildkite.com/acme/web/builds/101#{job_id}"


def test_job_graphql_id_encodes_uuid(api, aliases):
    job = api.get(f"/organizations/acme/jobs/{aliases['flaky_test']}").json()

    assert base64.b64decode(job["graphql_id"]).decode() == f"Job---{aliases['flaky_test']}"


def test_job_timestamps_have_milliseconds(api, aliases):
    job = api.get(f"/organizations/acme/jobs/{aliases['flaky_test']}").json()

    for key in ("created_at", "scheduled_at", "runnable_at", "started_at", "finished_at"):
        assert TIMESTAMP.fullmatch(job[key]), key
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]


@pytest.mark.parametrize(
    ("alias", "exit_status", "signal"),
    [("flaky_test", 1, None), ("passed_job", 0, None), ("timed_out_job", -1, "SIGTERM"), ("running_job", None, None)],
)
def test_job_exit_status(api, aliases, alias, exit_status, signal):
    job = api.get(f"/organizations/acme/jobs/{aliases[alias]}").json()

    assert job["exit_status"] == exit_status
    assert job["signal"] == signal


def test_waiter_and_manual_jobs_have_no_log_url(api, aliases):
    waiter = api.get(f"/organizations/acme/jobs/{aliases['release_wait']}").json()
    manual = api.get(f"/organizations/acme/jobs/{aliases['release_gate']}").json()

    assert waiter["type"] == "waiter"
    assert waiter["log_url"] is None
    assert waiter["raw_log_url"] is None
    assert manual["type"] == "manual"
    assert manual["log_url"] is None


def test_manual_job_has_label_and_unblock_fields(api, aliases):
    job = api.get(f"/organizations/acme/jobs/{aliases['release_gate']}").json()

    assert job["label"] == ":rocket: Release?"
    assert "name" not in job
    assert job["state"] == "blocked"
    assert job["unblockable"] is True
    assert job["unblocked_by"] is None
    assert job["unblock_url"].endswith(f"/builds/7/jobs/{aliases['release_gate']}/unblock")


def test_trigger_job_has_label(api, aliases):
    job = api.get(f"/organizations/acme/jobs/{aliases['failed_trigger']}").json()

    assert job["type"] == "trigger"
    assert job["label"] == ":link: Trigger downstream"
    assert job["triggered_build"] is None


def test_parallel_jobs_share_step(api, aliases):
    first = api.get(f"/organizations/acme/jobs/{aliases['parallel_shard_1']}").json()
    second = api.get(f"/organizations/acme/jobs/{aliases['parallel_shard_2']}").json()

    assert first["step_key"] == second["step_key"] == "shards"
    assert first["step"]["id"] == second["step"]["id"]
    assert (first["parallel_group_index"], second["parallel_group_index"]) == (0, 1)
    assert first["parallel_group_total"] == second["parallel_group_total"] == 2


@pytest.mark.parametrize(
    "path",
    [
        "/organizations/acme/jobs/0199a1b2-3000-4000-8000-00000000ffff",
        "/organizations/acme/jobs/not-a-uuid",
        f"{BUILD_101}/jobs/0199a1b2-3000-4000-8000-000000000016",
        "/organizations/acme/pipelines/web/builds/100/jobs/0199a1b2-3000-4000-8000-000000000001",
    ],
    ids=["unknown id", "not a uuid", "job of another pipeline", "job of another build"],
)
def test_get_job_not_found(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response.json() == {"message": "No job found"}


def test_get_job_needs_read_builds_scope(api, control, aliases):
    control.add_token(token="sim-token-env-only", scopes=["read_job_env"])

    response = api.get(f"/organizations/acme/jobs/{aliases['flaky_test']}", token="sim-token-env-only")

    assert response.status_code == 403
    assert response.json() == {"message": "Your access token doesn't have the read_builds scope"}


def test_list_jobs_includes_retried_by_default(api, aliases):
    body = api.get(f"{BUILD_101}/jobs").json()
    ids = [job["id"] for job in body["items"]]

    assert len(ids) == 14
    assert aliases["chain_first"] in ids
    assert body["links"]["next"] is None
    assert body["links"]["prev"] is None


def test_list_jobs_without_retried(api, aliases):
    body = api.get(f"{BUILD_101}/jobs", params={"include_retried_jobs": "false"}).json()
    ids = [job["id"] for job in body["items"]]

    assert len(ids) == 12
    assert aliases["chain_first"] not in ids


def test_list_jobs_pages_forward(api):
    pages = []
    url = f"{api.url}{BUILD_101}/jobs?per_page=5"
    while url:
        body = api.session.get(url, headers={"Authorization": "Bearer sim-token-full"}, timeout=10).json()
        pages.append(body)
        url = body["links"]["next"]

    sizes = [len(page["items"]) for page in pages]
    ids = [job["id"] for page in pages for job in page["items"]]
    all_ids = [job["id"] for job in api.get(f"{BUILD_101}/jobs").json()["items"]]
    assert sizes == [5, 5, 4]
    assert ids == all_ids
    assert pages[0]["links"]["prev"] is None
    assert pages[1]["links"]["prev"] is not None
    assert pages[-1]["links"]["next"] is None


def test_list_jobs_links(api):
    body = api.get(f"{BUILD_101}/jobs", params={"per_page": 5, "step_key": "integration"}).json()
    base = f"{api.url}{BUILD_101}/jobs"

    assert body["links"]["self"] == f"{base}?per_page=5&step_key=integration"
    assert body["links"]["first"] == f"{base}?per_page=5&step_key=integration"
    assert body["links"]["next"] is None
    assert body["links"]["prev"] is None


def test_list_jobs_next_link_keeps_filters(api):
    body = api.get(f"{BUILD_101}/jobs", params={"per_page": 1, "step_key": "integration"}).json()
    next_query = parse_qs(urlsplit(body["links"]["next"]).query)

    assert next_query["per_page"] == ["1"]
    assert next_query["step_key"] == ["integration"]
    assert "after" in next_query


def test_list_jobs_pages_backward(api):
    first_page = api.get(f"{BUILD_101}/jobs", params={"per_page": 5}).json()
    second_page = api.session.get(
        first_page["links"]["next"], headers={"Authorization": "Bearer sim-token-full"}, timeout=10
    ).json()

    back = api.session.get(second_page["links"]["prev"], headers={"Authorization": "Bearer sim-token-full"}, timeout=10)

    assert [job["id"] for job in back.json()["items"]] == [job["id"] for job in first_page["items"]]


def test_list_jobs_default_page_size_is_30(api, control):
    control.stop_clock()
    job_id = api.get("/organizations/acme/jobs/0199a1b2-3000-4000-8000-000000000002").json()["id"]
    for _request in range(20):
        job_id = api.put(f"/organizations/acme/jobs/{job_id}/retry").json()["id"]
        control.advance(1)

    body = api.get(f"{BUILD_101}/jobs").json()

    assert len(body["items"]) == 30
    assert body["links"]["next"] is not None


@pytest.mark.parametrize("per_page", ["0", "101", "abc", "-1"])
def test_list_jobs_rejects_invalid_per_page(api, per_page):
    response = api.get(f"{BUILD_101}/jobs", params={"per_page": per_page})

    assert response.status_code == 400
    assert "per_page" in response.json()["message"]


@pytest.mark.parametrize("cursor", ["garbage!", "am9iOm5vdC1hLXV1aWQ", ""])
def test_list_jobs_rejects_malformed_cursor(api, cursor):
    response = api.get(f"{BUILD_101}/jobs", params={"after": cursor})

    assert response.status_code == 400
    assert "cursor" in response.json()["message"]


def test_list_jobs_state_filter(api, aliases):
    body = api.get(f"{BUILD_101}/jobs", params={"state[]": ["timed_out", "canceled"]}).json()

    assert sorted(job["id"] for job in body["items"]) == sorted([aliases["timed_out_job"], aliases["canceled_job"]])


def test_list_jobs_rejects_unknown_state(api):
    response = api.get(f"{BUILD_101}/jobs", params={"state[]": ["failed", "exploded"]})

    assert response.status_code == 400
    assert "exploded" in response.json()["message"]


def test_list_jobs_step_key_filter(api, aliases):
    body = api.get(f"{BUILD_101}/jobs", params={"step_key": "integration"}).json()

    assert [job["id"] for job in body["items"]] == [
        aliases["chain_first"],
        aliases["chain_second"],
        aliases["chain_latest"],
    ]


def test_list_jobs_ignores_unknown_parameters(api):
    response = api.get(f"{BUILD_101}/jobs", params={"page": "7", "bogus": "yes"})

    assert response.status_code == 200
    assert len(response.json()["items"]) == 14


def test_list_jobs_unknown_build_not_found(api):
    response = api.get("/organizations/acme/pipelines/web/builds/555/jobs")

    assert response.status_code == 404
    assert response.json() == {"message": "No build found"}
