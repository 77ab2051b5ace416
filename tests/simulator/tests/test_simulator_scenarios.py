"""Scenario files: the bundled ones load, the README's job tables match them, and invalid files are rejected."""

import json
import re
from pathlib import Path

import pytest

from buildkite_simulator import ScenarioError, Simulator, available_scenarios

README = Path(__file__).resolve().parents[1] / "README.md"

# A job row of a README scenario table: | `alias` | `uuid` | build | `step_key` or - | state | retry or unblock result |
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


# Scenarios whose README table gives retry results, unblock results, or log results.
RETRY_TABLES = ("retry", "demo")
UNBLOCK_TABLES = ("deploy",)
LOG_TABLES = ("logs",)


def test_bundled_scenarios_available():
    assert {"demo", "deploy", "retry", "logs", "many"} <= set(available_scenarios())


@pytest.mark.parametrize("scenario", available_scenarios())
def test_bundled_scenario_loads(scenario):
    simulator = Simulator(scenario)

    assert simulator.world.aliases


@pytest.mark.parametrize("scenario", RETRY_TABLES + UNBLOCK_TABLES + LOG_TABLES)
def test_readme_lists_every_job(control, scenario):
    aliases = control.reset(scenario)["aliases"]

    rows = readme_jobs(scenario)

    assert {row["alias"]: row["id"] for row in rows} == aliases


README_ROWS = [(scenario, row) for scenario in RETRY_TABLES for row in readme_jobs(scenario)]


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


def valid_fields(block):
    """Return field values that a block step accepts: a value for each required field without a default."""
    if block is None:
        return {}
    values = {}
    for field in block["fields"]:
        if field["required"] and field["default"] is None:
            values[field["key"]] = field["options"][0]["value"] if "options" in field else "Flying Dolphin"
    return values


def check_unblock(api, control, row, expected):
    """Unblock the row's job and compare with ``expected``, a README cell part such as "200, then `deploy` passes"."""
    status = int(re.match(r"\d{3}", expected).group())
    body = {"fields": valid_fields(control.job(row["alias"])["block"])}

    response = api.put(f"/organizations/acme/jobs/{row['id']}/unblock", json=body)

    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["message"] in expected
        return
    assert response.json()["state"] == "unblocked"
    following = re.search(r"then `(\w+)` (passes|fails)", expected)
    if following:
        durations = control.job(following.group(1))["durations"]
        control.advance(durations["scheduled"] + durations["running"])
        assert control.job(following.group(1))["state"] == ("passed" if following.group(2) == "passes" else "failed")


UNBLOCK_ROWS = [row for scenario in UNBLOCK_TABLES for row in readme_jobs(scenario)]


@pytest.mark.parametrize("row", UNBLOCK_ROWS, ids=[row["alias"] for row in UNBLOCK_ROWS])
def test_readme_unblock_outcome(api, control, row):
    """Check a deploy table row. A "; after N s: ..." part of the cell is a second unblock, N s later."""
    control.reset("deploy")
    control.stop_clock()
    first, *later = row["result"].split("; after ")

    job = api.get(f"/organizations/acme/jobs/{row['id']}").json()
    assert job["state"] == row["state"]
    check_unblock(api, control, row, first)
    for part in later:
        seconds, expected = part.split(" s: ", 1)
        control.advance(float(seconds))
        check_unblock(api, control, row, expected)


def check_log(api, row, expected):
    """Compare a HEAD of the row's log with ``expected``, a README cell part such as "200, 175 bytes"."""
    status = int(re.match(r"\d{3}", expected).group())

    response = api.head(f"/organizations/acme/jobs/{row['id']}/log")

    assert response.status_code == status
    if status == 200:
        assert response.headers["Content-Length"] == re.search(r"(\d+) bytes", expected).group(1)
    else:
        message = api.get(f"/organizations/acme/jobs/{row['id']}/log").json()["message"]
        assert message in expected


LOG_ROWS = [row for scenario in LOG_TABLES for row in readme_jobs(scenario)]


@pytest.mark.parametrize("row", LOG_ROWS, ids=[row["alias"] for row in LOG_ROWS])
def test_readme_log_outcome(api, control, row):
    """Check a logs table row. A "; after N s: ..." part of the cell is a second HEAD, N s later."""
    control.reset("logs")
    control.stop_clock()
    first, *later = row["result"].split("; after ")

    job = api.get(f"/organizations/acme/jobs/{row['id']}").json()
    assert job["state"] == row["state"]
    check_log(api, row, first)
    for part in later:
        seconds, expected = part.split(" s: ", 1)
        control.advance(float(seconds))
        check_log(api, row, expected)


def test_readme_many_env_rows(api, control):
    aliases = control.reset("many")["aliases"]
    rows = readme_jobs("many")

    assert len(rows) == 5
    for row in rows:
        assert aliases[row["alias"]] == row["id"]
        env = api.get(f"/organizations/acme/jobs/{row['id']}/env").json()["env"]
        for name, value in re.findall(r"`(\w+)=(\w+)`", row["result"]):
            assert env[name] == value, (row["alias"], name)


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
GATE = {"alias": "gate", "id": "0199a1b2-3000-4000-8000-00000000b002", "type": "manual"}
LATER = {"alias": "later", "id": "0199a1b2-3000-4000-8000-00000000b003"}
OPTIONS = [{"label": "A", "value": "a"}]


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
        ([GATE, {**LATER, "state": "passed"}], {}, "which is blocked, must be waiting, got 'passed'"),
        ([GATE, {**LATER, "retries": [{"alias": "x", "id": JOB["id"]}]}], {}, "which is blocked, has no retries"),
        ([{**JOB, "fields": []}], {}, "['fields'] apply only to block steps"),
        ([{**GATE, "unblock_fields": {}}], {}, "apply only to block steps in state unblocked"),
        ([{**GATE, "fields": [{"select": "S", "key": "s"}]}], {}, "options must be a non-empty list"),
        ([{**GATE, "fields": [{"text": "T", "key": "t", "format": "("}]}], {}, "format must be a valid regular"),
        ([{**GATE, "fields": [{"text": "T", "key": "t"}, {"text": "U", "key": "t"}]}], {}, "used more than once"),
        ([{**GATE, "fields": [{"text": "T", "select": "S", "key": "t"}]}], {}, 'either "text" or "select"'),
        ([{**GATE, "fields": [{"text": "T", "key": "a b"}]}], {}, "key must contain only letters"),
        ([{**GATE, "fields": [{"select": "S", "key": "s", "options": OPTIONS, "default": "b"}]}], {}, "has no option"),
        ([{**GATE, "blocked_state": "blocked"}], {}, "blocked_state must be one of"),
        ([{**GATE, "allowed_teams": [1]}], {}, "allowed_teams must be a list"),
        ([{**JOB, "state": "running"}, {**GATE, "state": "unblocked"}], {}, "not finished: ['one']"),
        ([{**GATE, "state": "unblocked", "unblocked_by": "nobody"}], {}, "unblocked_by 'nobody' is not in users"),
        (
            [{**GATE, "state": "unblocked", "fields": [{"text": "T", "key": "t"}], "unblock_fields": {}}],
            {},
            'unblock_fields: Field "t" is required',
        ),
        ([JOB], {"meta_data": {"release": 1}}, "meta_data must be an object of keys to strings"),
        ([{**JOB, "log": 5}], {}, "jobs[0].log must be a string, a list of lines"),
        ([{**JOB, "log": [7]}], {}, 'jobs[0].log[0] must be a string or {"text"'),
        ([{**JOB, "log": [{"text": "a", "at": 2}, {"text": "b", "at": 1}]}], {}, "log[1].at must be a number"),
        ([{**JOB, "log": {"file": "../retry.json"}}], {}, "log.file must be the name of a file under"),
        ([{**JOB, "log": {"file": "missing.log"}}], {}, "log.file: cannot read log file"),
        ([{**JOB, "log": {"generate": {"bytes": -1}}}], {}, "log.generate.bytes must be an integer, 0 or more"),
        ([{**JOB, "log": {"generate": {"bytes": 1, "size": 2}}}], {}, "log.generate must be"),
        ([{**JOB, "log": "a", "attempt_logs": ["b"]}], {}, "give log (for every attempt) or attempt_logs"),
        ([{**JOB, "attempt_logs": []}], {}, "attempt_logs must be a non-empty list"),
        ([{**GATE, "log": "a"}], {}, "['log'] apply only to command jobs (type script), not manual"),
        ([{**JOB, "type": "waiter", "env": {"A": "1"}}], {}, "['env'] apply only to command jobs"),
        ([{**JOB, "env": {"BUILDKITE_BRANCH": "x"}}], {}, "BUILDKITE_BRANCH is set by Buildkite"),
        ([JOB], {"env": {"CI": "false"}}, "env: CI is set by Buildkite"),
        ([{**JOB, "env": {"1ST": "x"}}], {}, "'1ST' is not a variable name"),
        ([{**JOB, "env": {"A": 1}}], {}, "env.A must be a string"),
        ([JOB], {"env": ["A=1"]}, "env must be an object of variable names to strings"),
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
        "state after blocked step",
        "retries after blocked step",
        "block keys on command job",
        "fields of blocked step",
        "select without options",
        "invalid format",
        "duplicate field key",
        "text and select",
        "invalid field key",
        "default not an option",
        "invalid blocked_state",
        "invalid allowed_teams",
        "unblocked behind running job",
        "unknown unblocker",
        "invalid unblock_fields",
        "meta_data not strings",
        "log not a log",
        "log line not a string",
        "log lines out of order",
        "log file outside logs",
        "log file missing",
        "negative generated bytes",
        "unknown generate key",
        "log and attempt_logs",
        "empty attempt_logs",
        "log on block step",
        "env on wait step",
        "reserved env name",
        "reserved build env name",
        "invalid env name",
        "env value not a string",
        "env not an object",
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


def test_scenario_user_with_unknown_key_rejected(tmp_path):
    path = tmp_path / "users.json"
    user = {"id": "0199a1b2-0000-4000-8000-00000000b001", "name": "A", "email": "a@example.com", "team": ["x"]}
    path.write_text(json.dumps({"users": {"a": user}}))

    with pytest.raises(ScenarioError) as error:
        Simulator(str(path))

    assert "users.a: unknown keys ['team']" in str(error.value)


def test_token_user_with_scenario_user_id_rejected(control):
    user = {"id": "0199a1b2-0000-4000-8000-000000000001", "name": "Someone Else"}

    response = control.session.post(
        f"{control.url}/tokens", json={"token": "sim-token-x", "scopes": [], "user": user}, timeout=10
    )

    assert response.status_code == 400
    assert "is the scenario's user 'sim'" in response.json()["message"]


def test_log_file_read_beside_scenario(tmp_path, control, api):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "custom.log").write_bytes(b"custom \xff bytes\r\n")
    path = write_scenario(tmp_path, [{**JOB, "log": {"file": "custom.log"}}])
    control.reset(path)

    response = api.get(f"/organizations/acme/jobs/{JOB['id']}/log.txt")

    assert response.content == b"custom \xff bytes\r\n"


def test_attempt_logs_repeat_last(tmp_path, control, api):
    job = {**JOB, "attempts": ["failed"], "attempt_logs": ["first", "later"]}
    control.reset(write_scenario(tmp_path, [job]))
    control.stop_clock()
    second = api.put(f"/organizations/acme/jobs/{JOB['id']}/retry").json()
    control.advance(1)
    third = api.put(f"/organizations/acme/jobs/{second['id']}/retry").json()
    control.advance(1)

    logs = [
        api.get(f"/organizations/acme/jobs/{job_id}/log.txt").content
        for job_id in (JOB["id"], second["id"], third["id"])
    ]

    assert logs == [b"first", b"later", b"later"]


def test_log_lines_without_time_follow_previous_line(tmp_path, control, api):
    lines = ["a", {"text": "b", "at": 2}, "c", {"text": "d", "at": 5}]
    job = {**JOB, "state": "running", "durations": {"running": 100}, "log": lines}
    control.reset(write_scenario(tmp_path, [job], created_seconds_ago=0))
    control.stop_clock()

    before = api.get(f"/organizations/acme/jobs/{JOB['id']}/log.txt").content
    control.advance(2)
    middle = api.get(f"/organizations/acme/jobs/{JOB['id']}/log.txt").content

    assert before == b"a\n"
    assert middle == b"a\nb\nc\n"
