"""Rate limits: RateLimit-* headers on every response, 429 past the user or organization limit, windows."""

import pytest

BUILD_101 = "/organizations/acme/pipelines/web/builds/101"
OTHER_USER = {"id": "0199a1b2-0000-4000-8000-00000000abcd", "name": "Other User", "email": "other@example.com"}


def add_other_user_token(control):
    control.add_token(token="sim-token-other-user", scopes=["read_builds"], user=OTHER_USER)
    return "sim-token-other-user"


def test_headers_on_success(api):
    response = api.get(BUILD_101)

    assert response.status_code == 200
    assert response.headers["RateLimit-Scope"] == "rest"
    assert response.headers["RateLimit-Limit"] == "200"
    assert response.headers["RateLimit-Remaining"] == "199"
    assert response.headers["RateLimit-Reset"] == "60"
    assert response.headers["RateLimit-User-Scope"] == "rest_user"
    assert response.headers["RateLimit-User-Limit"] == "50"
    assert response.headers["RateLimit-User-Remaining"] == "49"
    assert response.headers["RateLimit-User-Reset"] == "60"
    assert "RateLimit-Warning" not in response.headers
    assert "RateLimit-User-Warning" not in response.headers


@pytest.mark.parametrize(
    ("path", "token", "status"),
    [
        (BUILD_101, None, 401),
        ("/organizations/acme/jobs/0199a1b2-3000-4000-8000-00000000ffff", "sim-token-full", 404),
        ("/no/such/route", "sim-token-full", 404),
        ("/organizations/acme/jobs/0199a1b2-3000-4000-8000-000000000001/retry", "sim-token-read", 403),
    ],
    ids=["401", "404 job", "404 route", "403"],
)
def test_headers_on_errors(api, path, token, status):
    method = "PUT" if path.endswith("/retry") else "GET"

    response = api.request(method, path, token=token)

    assert response.status_code == status
    for name in ("RateLimit-Scope", "RateLimit-Remaining", "RateLimit-Limit", "RateLimit-Reset"):
        assert name in response.headers
    for name in ("RateLimit-User-Scope", "RateLimit-User-Remaining", "RateLimit-User-Limit", "RateLimit-User-Reset"):
        assert name in response.headers


def test_user_limit_exceeded(api, control):
    control.stop_clock()
    control.configure(rate_limit={"user": 3})
    for _request in range(3):
        assert api.get(BUILD_101).status_code == 200

    response = api.get(BUILD_101)

    assert response.status_code == 429
    assert response.json() == {
        "message": "You have exceeded your API rate limit. Please wait 60 seconds before making more requests.",
        "scope": "rest_user",
        "limit": 3,
        "current": 4,
        "reset": 60,
    }
    assert response.headers["RateLimit-User-Remaining"] == "0"
    assert response.headers["RateLimit-User-Reset"] == "60"
    assert "RateLimit-User-Warning" in response.headers


def test_warning_header_when_limit_used_up(api, control):
    control.configure(rate_limit={"user": 2})

    first = api.get(BUILD_101)
    second = api.get(BUILD_101)

    assert "RateLimit-User-Warning" not in first.headers
    assert second.status_code == 200
    assert second.headers["RateLimit-User-Remaining"] == "0"
    assert "RateLimit-User-Warning" in second.headers


def test_organization_limit_exceeded(api, control):
    control.stop_clock()
    control.configure(rate_limit={"org": 3, "user": 10})
    other = add_other_user_token(control)
    statuses = [api.get(BUILD_101).status_code, api.get(BUILD_101, token=other).status_code]
    statuses.append(api.get(BUILD_101).status_code)

    response = api.get(BUILD_101, token=other)

    assert statuses == [200, 200, 200]
    assert response.status_code == 429
    assert response.json()["scope"] == "rest"
    assert response.json()["limit"] == 3
    assert response.json()["current"] == 4
    assert response.headers["RateLimit-Remaining"] == "0"
    assert "RateLimit-Warning" in response.headers
    assert response.headers["RateLimit-User-Remaining"] == "8"


def test_user_limits_are_separate(api, control):
    control.configure(rate_limit={"user": 1})
    other = add_other_user_token(control)

    first = api.get(BUILD_101)
    other_first = api.get(BUILD_101, token=other)

    assert first.status_code == 200
    assert other_first.status_code == 200


def test_organization_limits_are_separate(api, control):
    control.configure(rate_limit={"org": 1})

    acme = api.get(BUILD_101)
    globex = api.get("/organizations/globex/pipelines/web/builds/1")

    assert acme.status_code == 200
    assert globex.status_code == 404
    assert globex.headers["RateLimit-Remaining"] == "0"


def test_window_ends_after_clock_advance(api, control):
    control.stop_clock()
    control.configure(rate_limit={"user": 1})
    api.get(BUILD_101)
    assert api.get(BUILD_101).status_code == 429

    control.advance(60)
    response = api.get(BUILD_101)

    assert response.status_code == 200
    assert response.headers["RateLimit-User-Remaining"] == "0"
    assert response.headers["RateLimit-User-Reset"] == "60"


def test_reset_header_counts_down(api, control):
    control.stop_clock()
    api.get(BUILD_101)
    control.advance(20.5)

    response = api.get(BUILD_101)

    assert response.headers["RateLimit-Reset"] == "40"
    assert response.headers["RateLimit-User-Reset"] == "40"


def test_short_window(api, control):
    control.stop_clock()
    control.configure(rate_limit={"user": 1, "window": 2})
    api.get(BUILD_101)

    limited = api.get(BUILD_101)
    control.advance(2)
    allowed = api.get(BUILD_101)

    assert limited.status_code == 429
    assert limited.json()["reset"] == 2
    assert allowed.status_code == 200


def test_disabled_limits_never_reject(api, control):
    control.configure(rate_limit={"enabled": False, "user": 1, "org": 1})

    responses = [api.get(BUILD_101) for _request in range(5)]

    assert [response.status_code for response in responses] == [200] * 5
    assert responses[-1].headers["RateLimit-User-Remaining"] == "1"
    assert "RateLimit-User-Warning" not in responses[-1].headers


def test_rate_limit_config_round_trip(control):
    config = control.configure(rate_limit={"org": 10, "user": 5, "window": 1.5})

    assert config["rate_limit"] == {"enabled": True, "org": 10, "user": 5, "window": 1.5}
    assert control.call("GET", "/config")["rate_limit"] == config["rate_limit"]


@pytest.mark.parametrize("rate_limit", [{"user": 0}, {"org": "many"}, {"window": 0}, {"enabled": "yes"}, {"burst": 3}])
def test_rate_limit_config_rejects_invalid(control, rate_limit):
    response = control.session.post(f"{control.url}/config", json={"rate_limit": rate_limit}, timeout=10)

    assert response.status_code == 400
    assert "rate_limit" in response.json()["message"]
