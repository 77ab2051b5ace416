"""The many scenario: list jobs pagination and filters over 285 jobs, and env lookups of five jobs."""

from collections import Counter

import pytest

BUILD_500 = "/organizations/acme/pipelines/web/builds/500"
AUTHORIZATION = {"Authorization": "Bearer sim-token-full"}

# Latest attempts by (type, state), as the README's many section lists them.
LATEST_COUNTS = {
    ("script", "passed"): 155,
    ("script", "failed"): 40,
    ("script", "canceled"): 15,
    ("script", "timed_out"): 15,
    ("script", "running"): 20,
    ("script", "scheduled"): 20,
    ("waiter", "passed"): 8,
    ("manual", "unblocked"): 3,
    ("manual", "blocked"): 1,
}
# Six jobs were retried: four once and two twice, and every superseded attempt failed.
RETRIED_ATTEMPTS = 8
ALL_JOBS = sum(LATEST_COUNTS.values()) + RETRIED_ATTEMPTS


@pytest.fixture
def many(control):
    aliases = control.reset("many")["aliases"]
    control.stop_clock()
    return aliases


def list_all_jobs(api, query):
    """Follow the ``next`` links from the first page and return every page's items."""
    pages = []
    response = api.get(f"{BUILD_500}/jobs", params=query)
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        if body["links"]["next"] is None:
            return pages
        response = api.session.get(body["links"]["next"], headers=AUTHORIZATION, timeout=10)


def test_many_latest_job_counts(api, many):
    build = api.get(BUILD_500).json()

    counts = Counter((job["type"], job["state"]) for job in build["jobs"])

    assert counts == LATEST_COUNTS
    assert build["state"] == "running"


def test_many_pagination_walks_every_job(api, many):
    pages = list_all_jobs(api, {"per_page": 100})

    ids = [job["id"] for page in pages for job in page]
    assert [len(page) for page in pages] == [100, 100, ALL_JOBS - 200]
    assert len(set(ids)) == ALL_JOBS
    assert set(many.values()) == set(ids)


def test_many_default_page_size(api, many):
    pages = list_all_jobs(api, {})

    assert [len(page) for page in pages] == [30] * 9 + [ALL_JOBS - 270]


def test_many_prev_link_returns_previous_page(api, many):
    first = api.get(f"{BUILD_500}/jobs", params={"per_page": 100}).json()
    second = api.session.get(first["links"]["next"], headers=AUTHORIZATION, timeout=10).json()
    third = api.session.get(second["links"]["next"], headers=AUTHORIZATION, timeout=10).json()

    previous = api.session.get(third["links"]["prev"], headers=AUTHORIZATION, timeout=10).json()

    assert [job["id"] for job in previous["items"]] == [job["id"] for job in second["items"]]
    assert third["links"]["next"] is None


@pytest.mark.parametrize(
    ("state", "count"),
    [
        ("passed", 163),
        ("failed", 40 + RETRIED_ATTEMPTS),
        ("canceled", 15),
        ("timed_out", 15),
        ("running", 20),
        ("scheduled", 20),
        ("blocked", 1),
        ("unblocked", 3),
    ],
)
def test_many_state_filter(api, many, state, count):
    pages = list_all_jobs(api, {"per_page": 100, "state[]": state})

    jobs = [job for page in pages for job in page]
    assert len(jobs) == count
    assert {job["state"] for job in jobs} == {state}


def test_many_several_states_filter(api, many):
    pages = list_all_jobs(api, {"per_page": 100, "state[]": ["running", "scheduled"]})

    assert sum(len(page) for page in pages) == 40


@pytest.mark.parametrize(
    ("step_key", "latest", "with_retried"), [("unit", 40, 43), ("integration", 10, 10), ("lint", 10, 10)]
)
def test_many_step_key_filter(api, many, step_key, latest, with_retried):
    latest_jobs = list_all_jobs(api, {"per_page": 100, "step_key": step_key, "include_retried_jobs": "false"})
    all_jobs = list_all_jobs(api, {"per_page": 100, "step_key": step_key})

    assert sum(len(page) for page in latest_jobs) == latest
    assert sum(len(page) for page in all_jobs) == with_retried


def test_many_shards_share_step_id(api, many):
    jobs = list_all_jobs(api, {"per_page": 100, "step_key": "unit", "include_retried_jobs": "false"})[0]

    assert len({job["step"]["id"] for job in jobs}) == 1
    assert sorted(job["parallel_group_index"] for job in jobs) == list(range(40))


@pytest.mark.parametrize(("group_key", "count"), [("tests", 50), ("checks", 10)])
def test_many_group_key_filter(api, many, group_key, count):
    pages = list_all_jobs(api, {"per_page": 100, "group_key": group_key, "include_retried_jobs": "false"})

    assert sum(len(page) for page in pages) == count


SERVICES = [("api", "8080"), ("web", "3000"), ("worker", "9090"), ("billing", "8443"), ("search", "9200")]


@pytest.mark.parametrize(("number", "service"), list(enumerate(SERVICES, start=1)))
def test_many_env_lookup(api, many, number, service):
    name, port = service

    env = api.get(f"/organizations/acme/jobs/{many[f'env_lookup_{number}']}/env").json()["env"]

    assert env["SERVICE_NAME"] == name
    assert env["SERVICE_PORT"] == port
    assert env["SERVICE_TOKEN"] == f"sim-{name}-token-not-a-secret"
    assert env["BUILDKITE_STEP_KEY"] == f"service-{name}"
