"""Job environment: Buildkite's standard variables, scenario env, dotenv text, scopes, block steps and unblockers."""

import re

import pytest

WEB_101 = "/organizations/acme/pipelines/web/builds/101"
JSON_TYPE = "application/json; charset=utf-8"
TEXT_PLAIN = "text/plain; charset=utf-8"

# Variables that every job of a build gets, command or not.
BUILD_VARIABLES = {
    "BUILDKITE",
    "CI",
    "BUILDKITE_ORGANIZATION_SLUG",
    "BUILDKITE_PIPELINE_SLUG",
    "BUILDKITE_PIPELINE_NAME",
    "BUILDKITE_PIPELINE_ID",
    "BUILDKITE_PIPELINE_DEFAULT_BRANCH",
    "BUILDKITE_REPO",
    "BUILDKITE_BUILD_ID",
    "BUILDKITE_BUILD_NUMBER",
    "BUILDKITE_BUILD_URL",
    "BUILDKITE_BRANCH",
    "BUILDKITE_COMMIT",
    "BUILDKITE_MESSAGE",
    "BUILDKITE_TAG",
    "BUILDKITE_SOURCE",
    "BUILDKITE_PULL_REQUEST",
    "BUILDKITE_BUILD_CREATOR",
    "BUILDKITE_BUILD_CREATOR_EMAIL",
}

# The flaky_test job's scenario env: names the agent redacts, and values that are hard to quote.
FLAKY_TEST_ENV = {
    "DATABASE_PASSWORD": "sim-db-password-not-a-secret",
    "STRIPE_SECRET": "sim-stripe-secret-not-a-secret",
    "GITHUB_TOKEN": "sim-github-token-not-a-secret",
    "DEPLOY_PRIVATE_KEY": (
        "-----BEGIN SIMULATED PRIVATE KEY-----\n"
        "c2ltdWxhdGVkIGtleSBtYXRlcmlhbCwgbm90IGEgcmVhbCBrZXkK\n"
        "bGluZSB0d28gb2YgdGhlIGJsb2NrCg==\n"
        "-----END SIMULATED PRIVATE KEY-----\n"
    ),
    "AWS_ACCESS_KEY": "sim-aws-access-key-not-a-secret",
    "AWS_SECRET_KEY": "sim-aws-secret-key-not-a-secret",
    "AZURE_STORAGE_CONNECTION_STRING": (
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=c2lt==;EndpointSuffix=core.windows.net"
    ),
    "QUERY_STRING": "a=1&b==2",
    "QUOTED": "She said \"hi\" and 'bye'",
    "DOLLARS": "$HOME and ${PATH} cost $5",
    "WINDOWS_PATH": "C:\\new\\temp\\",
    "CRLF_VALUE": "line one\r\nline two",
    "PADDED": "  spaces at both ends  ",
    "EMPTY": "",
    "UNICODE": "café ☕ 日本語 🚀",
    "lowercase_name": "lower",
    "VAR_2": "two",
    "_LEADING_UNDERSCORE": "underscore",
}

_DOTENV_LINE = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')
_DOTENV_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "$": "$"}


def parse_dotenv(text):
    """Parse ``KEY="VALUE"`` lines, undoing the escapes the README documents: \\\\, \\", \\n, \\r and \\$."""
    variables = {}
    for line in text.splitlines():
        match = _DOTENV_LINE.fullmatch(line)
        assert match, f"not a KEY=\"VALUE\" line: {line!r}"
        variables[match.group(1)] = _DOTENV_ESCAPE.sub(lambda escape: _UNESCAPED[escape.group(1)], match.group(2))
    return variables


def env_path(job_id, suffix="env"):
    return f"/organizations/acme/jobs/{job_id}/{suffix}"


def test_env_json_shape(api, aliases):
    response = api.get(env_path(aliases["flaky_test"]))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == JSON_TYPE
    body = response.json()
    assert list(body) == ["env"]
    assert all(isinstance(value, str) for value in body["env"].values())


def test_env_standard_variables(api, aliases):
    env = api.get(env_path(aliases["flaky_test"])).json()["env"]

    assert BUILD_VARIABLES <= set(env)
    assert env["BUILDKITE"] == "true"
    assert env["CI"] == "true"
    assert env["BUILDKITE_ORGANIZATION_SLUG"] == "acme"
    assert env["BUILDKITE_PIPELINE_SLUG"] == "web"
    assert env["BUILDKITE_BUILD_NUMBER"] == "101"
    assert env["BUILDKITE_BUILD_ID"] == "0199a1b2-2000-4000-8000-000000000101"
    assert env["BUILDKITE_BUILD_URL"] == "https://buildkite.com/acme/web/builds/101"
    assert env["BUILDKITE_BRANCH"] == "main"
    assert env["BUILDKITE_COMMIT"] == "7c4a8d09ca3762af61e59520943dc26494f8941b"
    assert env["BUILDKITE_MESSAGE"] == "Add the checkout page"
    assert env["BUILDKITE_BUILD_CREATOR"] == "Simulator User"
    assert env["BUILDKITE_BUILD_CREATOR_EMAIL"] == "sim-user@example.com"
    assert env["BUILDKITE_REPO"] == "git@github.com:acme/web.git"


def test_env_job_variables(api, aliases):
    job = api.get(f"/organizations/acme/jobs/{aliases['flaky_test']}").json()

    env = api.get(env_path(aliases["flaky_test"])).json()["env"]

    assert env["BUILDKITE_JOB_ID"] == aliases["flaky_test"]
    assert env["BUILDKITE_STEP_KEY"] == "unit"
    assert env["BUILDKITE_STEP_ID"] == job["step"]["id"]
    assert env["BUILDKITE_LABEL"] == ":pytest: Unit tests"
    assert env["BUILDKITE_COMMAND"] == "make test"
    assert env["BUILDKITE_RETRY_COUNT"] == "0"


def test_env_parallel_job_variables(api, aliases):
    env = api.get(env_path(aliases["parallel_shard_2"])).json()["env"]

    assert env["BUILDKITE_PARALLEL_JOB"] == "1"
    assert env["BUILDKITE_PARALLEL_JOB_COUNT"] == "2"


def test_env_scenario_values_exact(api, aliases):
    env = api.get(env_path(aliases["flaky_test"])).json()["env"]

    for name, value in FLAKY_TEST_ENV.items():
        assert env[name] == value, name
    assert env["NODE_ENV"] == "test"
    assert env["DATABASE_URL"] == "postgres://ci@localhost:5432/web_test"


def test_env_build_variables_reach_every_command_job(api, aliases):
    env = api.get(env_path(aliases["passed_job"])).json()["env"]

    assert env["NODE_ENV"] == "test"
    assert "DATABASE_PASSWORD" not in env


def test_env_names_sorted(api, aliases):
    env = api.get(env_path(aliases["flaky_test"])).json()["env"]

    assert list(env) == sorted(env)


def test_env_txt_round_trips(api, aliases):
    json_env = api.get(env_path(aliases["flaky_test"])).json()["env"]

    response = api.get(env_path(aliases["flaky_test"], "env.txt"))

    assert response.status_code == 200
    assert response.headers["Content-Type"] == TEXT_PLAIN
    assert parse_dotenv(response.text) == json_env
    assert list(parse_dotenv(response.text)) == list(json_env)


@pytest.mark.parametrize(
    "line",
    [
        'DOLLARS="\\$HOME and \\${PATH} cost \\$5"',
        'QUOTED="She said \\"hi\\" and \'bye\'"',
        'WINDOWS_PATH="C:\\\\new\\\\temp\\\\"',
        'CRLF_VALUE="line one\\r\\nline two"',
        'EMPTY=""',
        'QUERY_STRING="a=1&b==2"',
        'PADDED="  spaces at both ends  "',
        'UNICODE="café ☕ 日本語 🚀"',
        'DEPLOY_PRIVATE_KEY="-----BEGIN SIMULATED PRIVATE KEY-----'
        '\\nc2ltdWxhdGVkIGtleSBtYXRlcmlhbCwgbm90IGEgcmVhbCBrZXkK'
        '\\nbGluZSB0d28gb2YgdGhlIGJsb2NrCg==\\n-----END SIMULATED PRIVATE KEY-----\\n"',
        'BUILDKITE_BUILD_NUMBER="101"',
    ],
)
def test_env_txt_quoting(api, aliases, line):
    text = api.get(env_path(aliases["flaky_test"], "env.txt")).text

    assert line in text.splitlines()


def test_env_txt_one_line_per_variable(api, aliases):
    env = api.get(env_path(aliases["flaky_test"])).json()["env"]

    text = api.get(env_path(aliases["flaky_test"], "env.txt")).text

    assert text.endswith("\n")
    assert len(text.splitlines()) == len(env)


def test_env_accept_text_plain(api, aliases):
    by_suffix = api.get(env_path(aliases["flaky_test"], "env.txt"))

    response = api.get(env_path(aliases["flaky_test"]), headers={"Accept": "text/plain"})

    assert response.headers["Content-Type"] == TEXT_PLAIN
    assert response.content == by_suffix.content


def test_env_txt_with_json_only_accept_not_acceptable(api, aliases):
    response = api.get(env_path(aliases["flaky_test"], "env.txt"), headers={"Accept": "application/json"})

    assert response.status_code == 406
    assert response.json() == {"message": "Not Acceptable"}


def test_env_html_accept_not_acceptable(api, aliases):
    response = api.get(env_path(aliases["flaky_test"]), headers={"Accept": "text/html"})

    assert response.status_code == 406
    assert response.json() == {"message": "Not Acceptable"}


@pytest.mark.parametrize("suffix", ["env", "env.txt"])
def test_env_build_route_matches_organization_route(api, aliases, suffix):
    by_build = api.get(f"{WEB_101}/jobs/{aliases['flaky_test']}/{suffix}")
    by_organization = api.get(env_path(aliases["flaky_test"], suffix))

    assert by_build.status_code == 200
    assert by_build.content == by_organization.content


def test_env_head_has_get_length(api, aliases):
    get = api.get(env_path(aliases["flaky_test"]))

    head = api.head(env_path(aliases["flaky_test"]))

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]


@pytest.mark.parametrize("token", ["sim-token-read", "sim-token-nologs"])
@pytest.mark.parametrize("suffix", ["env", "env.txt"])
def test_env_needs_read_job_env_scope(api, aliases, token, suffix):
    response = api.get(env_path(aliases["flaky_test"], suffix), token=token)

    assert response.status_code == 403
    assert response.json() == {"message": "Your access token doesn't have the read_job_env scope"}


def test_env_unknown_job_not_found(api):
    response = api.get(env_path("0199a1b2-3000-4000-8000-0000000000ff"))

    assert response.status_code == 404
    assert response.json() == {"message": "No job found"}


@pytest.mark.parametrize("alias", ["release_gate", "release_wait"])
def test_env_block_and_wait_jobs_build_only(api, aliases, alias):
    env = api.get(env_path(aliases[alias])).json()["env"]

    assert set(env) == BUILD_VARIABLES
    assert env["BUILDKITE_PIPELINE_SLUG"] == "deploy"


def test_env_trigger_job_build_only(api, aliases):
    env = api.get(env_path(aliases["failed_trigger"])).json()["env"]

    assert set(env) == BUILD_VARIABLES | {"NODE_ENV", "DATABASE_URL"}


def test_env_retry_count_of_new_attempt(api, aliases):
    new_job = api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry").json()

    env = api.get(env_path(new_job["id"])).json()["env"]

    assert env["BUILDKITE_RETRY_COUNT"] == "1"
    assert env["BUILDKITE_JOB_ID"] == new_job["id"]
    assert env["DATABASE_PASSWORD"] == FLAKY_TEST_ENV["DATABASE_PASSWORD"]


def test_env_retry_count_of_scenario_retries(api, aliases):
    counts = [
        api.get(env_path(aliases[alias])).json()["env"]["BUILDKITE_RETRY_COUNT"]
        for alias in ("chain_first", "chain_second", "chain_latest")
    ]

    assert counts == ["0", "1", "2"]


DEPLOY_ENV = {
    "RELEASE_VERSION": "2026.12.04-42",
    "DEPLOY_ENVIRONMENT": "production",
    "DATABASE_PASSWORD": "sim-db-password-not-a-secret",
    "AWS_SECRET_ACCESS_KEY": "sim-aws-secret-access-key-not-a-secret",
}
UNBLOCKER_VARIABLES = {
    "BUILDKITE_UNBLOCKER",
    "BUILDKITE_UNBLOCKER_ID",
    "BUILDKITE_UNBLOCKER_EMAIL",
    "BUILDKITE_UNBLOCKER_NAME",
    "BUILDKITE_UNBLOCKER_TEAMS",
}
RELEASE_MANAGER_VARIABLES = {
    "BUILDKITE_UNBLOCKER": "Release Manager",
    "BUILDKITE_UNBLOCKER_ID": "0199a1b2-0000-4000-8000-000000000002",
    "BUILDKITE_UNBLOCKER_EMAIL": "release-manager@example.com",
    "BUILDKITE_UNBLOCKER_NAME": "Release Manager",
    "BUILDKITE_UNBLOCKER_TEAMS": "release-managers",
}


def test_deploy_job_env(api, control):
    aliases = control.reset("deploy")["aliases"]

    env = api.get(env_path(aliases["deploy"])).json()["env"]

    for name, value in DEPLOY_ENV.items():
        assert env[name] == value, name


def test_demo_deploy_job_env(api, control):
    aliases = control.reset("demo")["aliases"]

    env = api.get(env_path(aliases["deploy"])).json()["env"]

    assert env["RELEASE_VERSION"] == "2026.12.04-1234"
    assert env["DEPLOY_ENVIRONMENT"] == "production"
    assert env["DATABASE_PASSWORD"] == "sim-db-password-not-a-secret"
    assert env["AWS_SECRET_ACCESS_KEY"] == "sim-aws-secret-access-key-not-a-secret"


def test_env_has_no_unblocker_before_unblock(api, control):
    aliases = control.reset("deploy")["aliases"]

    env = api.get(env_path(aliases["deploy"])).json()["env"]

    assert not UNBLOCKER_VARIABLES & set(env)


def test_env_names_unblocker_after_unblock(api, control):
    aliases = control.reset("deploy")["aliases"]
    control.stop_clock()
    control.advance(1.5)
    fields = {"release-name": "Flying Dolphin", "regions": "us-east-1"}
    unblocker = "0199a1b2-0000-4000-8000-000000000002"
    response = api.put(
        f"/organizations/acme/jobs/{aliases['gate']}/unblock", json={"fields": fields, "unblocker": unblocker}
    )

    env = api.get(env_path(aliases["deploy"])).json()["env"]
    gate_env = api.get(env_path(aliases["gate"])).json()["env"]
    tests_env = api.get(env_path(aliases["tests"])).json()["env"]

    assert response.status_code == 200
    for name, value in RELEASE_MANAGER_VARIABLES.items():
        assert env[name] == value, name
    assert not UNBLOCKER_VARIABLES & set(gate_env)
    assert not UNBLOCKER_VARIABLES & set(tests_env)


def test_env_names_token_user_as_unblocker(api, control):
    aliases = control.reset("deploy")["aliases"]
    control.stop_clock()
    control.advance(1.5)
    api.put(
        f"/organizations/acme/jobs/{aliases['gate']}/unblock",
        json={"fields": {"release-name": "A", "regions": "us-east-1"}},
    )

    env = api.get(env_path(aliases["deploy"])).json()["env"]

    assert env["BUILDKITE_UNBLOCKER"] == "Simulator User"
    assert env["BUILDKITE_UNBLOCKER_ID"] == "0199a1b2-0000-4000-8000-000000000001"
    assert env["BUILDKITE_UNBLOCKER_TEAMS"] == "developers"


def test_env_names_scenario_unblocker(api, control):
    aliases = control.reset("deploy")["aliases"]

    env = api.get(env_path(aliases["released_deploy"])).json()["env"]

    for name, value in RELEASE_MANAGER_VARIABLES.items():
        assert env[name] == value, name


def test_env_request_logged_with_route(api, control, aliases):
    api.get(env_path(aliases["flaky_test"], "env.txt"))

    entries = control.requests()

    assert [(entry["route"], entry["status"]) for entry in entries] == [("get_job_env", 200)]
