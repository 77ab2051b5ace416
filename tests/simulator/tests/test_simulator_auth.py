"""Tokens: 401 without a valid bearer token, 403 for a missing scope or another organization."""

import secrets

import pytest

BUILD_101 = "/organizations/acme/pipelines/web/builds/101"
AUTHENTICATION_REQUIRED = {
    "message": "Authentication required. Please supply a valid API Access Token: "
    "https://buildkite.com/docs/apis/rest-api#authentication"
}


def test_missing_token_unauthorized(api):
    response = api.get(BUILD_101, token=None)

    assert response.status_code == 401
    assert response.json() == AUTHENTICATION_REQUIRED


def test_unknown_token_unauthorized(api):
    response = api.get(BUILD_101, token="not-a-real-token")

    assert response.status_code == 401
    assert response.json() == AUTHENTICATION_REQUIRED


@pytest.mark.parametrize("authorization", ["Basic c2ltLXRva2VuLWZ1bGw6", "sim-token-full", "Bearer"])
def test_malformed_authorization_unauthorized(api, authorization):
    response = api.get(BUILD_101, token=None, headers={"Authorization": authorization})

    assert response.status_code == 401
    assert response.json() == AUTHENTICATION_REQUIRED


def test_read_token_reads_builds(read_api):
    assert read_api.get(BUILD_101).status_code == 200


def test_read_token_lacks_write_builds(read_api, aliases):
    response = read_api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry")

    assert response.status_code == 403
    assert response.json() == {"message": "Your access token doesn't have the write_builds scope"}


def test_token_for_other_organization_forbidden(api, control, aliases):
    control.add_token(token="sim-token-globex", scopes=["read_builds", "write_builds"], organizations=["globex"])

    read = api.get(BUILD_101, token="sim-token-globex")
    retry = api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry", token="sim-token-globex")

    assert read.status_code == 403
    assert read.json() == {"message": "Forbidden"}
    assert retry.status_code == 403
    assert retry.json() == {"message": "Forbidden"}
    assert control.job("flaky_test")["times_retried"] == 0


def test_token_for_same_organization_allowed(api, control):
    control.add_token(token="sim-token-acme", scopes=["read_builds"], organizations=["acme"])

    assert api.get(BUILD_101, token="sim-token-acme").status_code == 200


def test_added_token_acts_as_its_user(api, control, aliases):
    token = secrets.token_hex(40)
    user = {"id": "0199a1b2-0000-4000-8000-00000000beef", "name": "Release Bot", "email": "bot@example.com"}
    control.add_token(token=token, scopes=["read_builds", "write_builds"], user=user)

    job = api.put(f"/organizations/acme/jobs/{aliases['flaky_test']}/retry", token=token).json()

    assert job["retried_by"]["id"] == user["id"]
    assert job["retried_by"]["name"] == "Release Bot"


def test_access_token_endpoint(read_api):
    response = read_api.get("/access-token")

    assert response.status_code == 200
    body = response.json()
    assert body["scopes"] == ["read_builds"]
    assert body["user"]["id"] == "0199a1b2-0000-4000-8000-000000000001"
    assert body["expires_at"] is None


def test_access_token_endpoint_needs_token(api):
    response = api.get("/access-token", token=None)

    assert response.status_code == 401
    assert response.json() == AUTHENTICATION_REQUIRED
