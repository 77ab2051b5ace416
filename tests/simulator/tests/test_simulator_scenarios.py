"""Scenario files: the bundled ones load, the README's job tables match them, and invalid files are rejected."""

import json
import re
from pathlib import Path

import pytest

from buildkite_simulator import ScenarioError, Simulator, available_scenarios

README = Path(__file__).resolve().parents[1] / "README.md"

# A job row of a README scenario table: | `alias` | `uuid` | build | `step_key` or - | state | retry result |
JOB_ROW = re.compile(
    r"^\| `(?P<alias>\w+)` \| `(?P<id>[0-9a-f-]{36})` \| (?P<build>[^|]+) \| (?P<step_key>[^|]+) "
    r"\| (?P<state>\w+) \| (?P<result>[^|]+) \|$"
)


def readme_jobs(scenario):
    """Return the job rows of the README table under the heading ``### Scenario `<scenario>` ``."""
    text = README.read_text(encoding="utf-8")
    section = text.split(f"### Scenario `{scenario}`", 1)[1].split("\n### ", 1)[0]
    return [match.groupdict() for line in section.splitlines() if (match := JOB_ROW.match(line.strip()))]


def expected_retry(result):
    """Return ``(status, final state of the new attempt or None)`` from a README retry result cell."""
    status = int(re.match(r"\d{3}", result).group())
    if status != 200:
        return status, None
    if "passes" in result:
        return 200, "passed"
    if "fails" in result:
        return 200, "failed"
    raise AssertionError(f"cannot read the expected outcome from {result!r}")


def test_bundled_scenarios_available():
    assert {"demo", "retry"} <= set(available_scenarios())


@pytest.mark.parametrize("scenario", available_scenarios())
def test_bundled_scenario_loads(scenario):
    simulator = Simulator(scenario)

    assert simulator.world.aliases


@pytest.mark.parametrize("scenario", ["retry", "demo"])
def test_readme_lists_every_job(control, scenario):
    aliases = control.reset(scenario)["aliases"]

    rows = readme_jobs(scenario)

    assert {row["alias"]: row["id"] for row in rows} == aliases


README_ROWS = [(scenario, row) for scenario in ("retry", "demo") for row in readme_jobs(scenario)]


@pytest.mark.parametrize(
    ("scenario", "row"), README_ROWS, ids=[f"{scenario}-{row['alias']}" for scenario, row in README_ROWS]
)
def test_readme_retry_outcome(api, control, scenario, row):
    control.reset(scenario)
    control.stop_clock()
    status, final_state = expected_retry(row["result"])

    job = api.get(f"/organizations/acme/jobs/{row['id']}").json()
    response = api.put(f"/organizations/acme/jobs/{row['id']}/retry")

    assert job["state"] == row["state"]
    assert response.status_code == status, response.text
    if final_state is not None:
        durations = control.job(row["alias"])["durations"]
        control.advance(durations["scheduled"] + durations["running"])
        new_job = api.get(f"/organizations/acme/jobs/{response.json()['id']}").json()
        assert new_job["state"] == final_state


def write_scenario(tmp_path, jobs, **build_changes):
    build = {
        "organization": "acme",
        "pipeline": "web",
        "number": 1,
        "id": "0199a1b2-2000-4000-8000-00000000b001",
        "jobs": jobs,
        **build_changes,
    }
    path = tmp_path / "custom.json"
    path.write_text(json.dumps({"builds": [build]}))
    return str(path)


JOB = {"alias": "one", "id": "0199a1b2-3000-4000-8000-00000000b001"}


@pytest.mark.parametrize(
    ("jobs", "build_changes", "message"),
    [
        ([{**JOB, "colour": "red"}], {}, "unknown keys ['colour']"),
        ([JOB, {**JOB, "id": "0199a1b2-3000-4000-8000-00000000b002"}], {}, "alias 'one' is used twice"),
        ([{**JOB, "id": "1234"}], {}, "must be a hyphenated UUID"),
        ([{**JOB, "state": "exploded"}], {}, "must be a REST job state"),
        ([{**JOB, "attempts": ["maybe"]}], {}, "attempts must be a non-empty list"),
        ([{**JOB, "type": "robot"}], {}, "type must be one of"),
        ([{**JOB, "state": "running"}], {"state": "canceled"}, "must have finished"),
        ([JOB], {"state": "failed"}, "may only be \"canceled\""),
        ([{**JOB, "state": "failed"}], {"created_seconds_ago": 10}, "would finish in the future"),
    ],
    ids=[
        "unknown job key",
        "duplicate alias",
        "bad uuid",
        "unknown state",
        "bad attempts",
        "unknown type",
        "running job in canceled build",
        "build state",
        "history in the future",
    ],
)
def test_invalid_scenario_rejected(tmp_path, jobs, build_changes, message):
    path = write_scenario(tmp_path, jobs, **build_changes)

    with pytest.raises(ScenarioError) as error:
        Simulator(path)

    assert message in str(error.value)


def test_scenario_without_default_tokens(tmp_path, running_simulator, control, api):
    path = tmp_path / "locked.json"
    path.write_text(
        json.dumps(
            {
                "default_tokens": False,
                "tokens": [{"token": "only-this-one", "scopes": ["read_builds"]}],
                "builds": [{"organization": "acme", "pipeline": "web", "number": 1, "id": JOB["id"], "jobs": [JOB]}],
            }
        )
    )
    control.reset(str(path))

    assert api.get("/organizations/acme/pipelines/web/builds/1").status_code == 401
    assert api.get("/organizations/acme/pipelines/web/builds/1", token="only-this-one").status_code == 200


def test_scenario_presets_config(tmp_path, control):
    path = tmp_path / "preset.json"
    path.write_text(json.dumps({"config": {"already_retried_status": 422, "rate_limit": {"enabled": False}}}))

    control.reset(str(path))

    config = control.call("GET", "/config")
    assert config["already_retried_status"] == 422
    assert config["rate_limit"]["enabled"] is False
