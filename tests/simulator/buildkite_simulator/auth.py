"""API access tokens: authentication (401), scopes and organization limits (403)."""

import threading
import uuid
from dataclasses import dataclass

from .errors import ApiError

# Buildkite REST API token scopes (docs: Managing API access tokens).
ALL_SCOPES = (
    "read_agents",
    "write_agents",
    "read_teams",
    "write_teams",
    "read_artifacts",
    "write_artifacts",
    "read_builds",
    "write_builds",
    "read_job_env",
    "read_build_logs",
    "write_build_logs",
    "read_organizations",
    "read_pipelines",
    "write_pipelines",
    "read_pipeline_templates",
    "write_pipeline_templates",
    "read_clusters",
    "write_clusters",
    "read_suites",
    "write_suites",
    "read_user",
)

# Tokens that every scenario has unless it sets "default_tokens": false.
DEFAULT_TOKEN_SCOPES = {
    "sim-token-full": ALL_SCOPES,
    "sim-token-read": ("read_builds",),
    "sim-token-nologs": ("read_builds", "write_builds"),
}

# The live API's 401 body, as quoted in buildkite/cli pull request 566.
AUTHENTICATION_REQUIRED = (
    "Authentication required. Please supply a valid API Access Token: "
    "https://buildkite.com/docs/apis/rest-api#authentication"
)


@dataclass
class Token:
    token: str
    scopes: frozenset
    user: object
    created_at: float
    # None means every organization; otherwise the organization slugs the token may access.
    organizations: frozenset | None = None
    description: str = ""

    @property
    def uuid(self):
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"buildkite-simulator/token/{self.token}"))


def validate_scopes(scopes):
    """Raise ValueError unless ``scopes`` is a list of known Buildkite scope names."""
    if not isinstance(scopes, list) or not all(isinstance(scope, str) for scope in scopes):
        raise ValueError(f"scopes must be a list of strings, got {scopes!r}")
    unknown = sorted(set(scopes) - set(ALL_SCOPES))
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; valid scopes: {', '.join(ALL_SCOPES)}")


class TokenStore:
    """The tokens a scenario defines plus those added through ``POST /_sim/tokens``."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tokens = {}

    def add(self, token):
        with self._lock:
            self._tokens[token.token] = token

    def authenticate(self, authorization):
        """Return the Token named by an ``Authorization: Bearer`` header value, or raise a 401."""
        scheme, _separator, credentials = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            raise ApiError(401, AUTHENTICATION_REQUIRED)
        with self._lock:
            token = self._tokens.get(credentials.strip())
        if token is None:
            raise ApiError(401, AUTHENTICATION_REQUIRED)
        return token


def require_scope(token, scope):
    if scope not in token.scopes:
        raise ApiError(403, f"Your access token doesn't have the {scope} scope")


def require_organization_access(token, organization):
    if token.organizations is not None and organization not in token.organizations:
        raise ApiError(403, "Forbidden")
