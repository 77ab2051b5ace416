"""The Buildkite REST API routes under ``/v2``: builds, jobs, retry, unblock, job logs, job env and the access token.

Every response, errors included, carries the ``RateLimit-*`` headers. A request passes these
checks in order: rate limits (429), route (404, 405), token (401), scope (403), organization
exists (404), token may access the organization (403), then the route's own lookups.
"""

import base64
import binascii
import re
from urllib.parse import urlencode

from .auth import require_organization_access, require_scope
from .clock import format_timestamp
from .errors import ApiError
from .job_env import env_handler
from .job_logs import delete_job_log, log_handler
from .lookups import find_build, find_job
from .model import JOB_STATES, normalize_uuid
from .negotiation import HTML, TEXT
from .representations import build_json, job_json, user_json
from .routing import Response, Router, error_response, json_response

API_PREFIX = "/v2"
BUILD_PATH = "/v2/organizations/{organization}/pipelines/{pipeline}/builds/{number}"
ORGANIZATION_PATH = "/v2/organizations/{organization}"

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100

_ORGANIZATION_IN_PATH = re.compile(r"/v2/organizations/([^/]+)")
_TRUE_VALUES = ("true", "1", "yes", "on")
_FALSE_VALUES = ("false", "0", "no", "off", "")
_CURSOR_PREFIX = "job:"


def handle_api_request(simulator, request, api_base):
    """Handle one API request against the simulator's state and return the Response."""
    now = simulator.now()
    route_name = None
    organization_match = _ORGANIZATION_IN_PATH.match(request.path)
    organization = organization_match.group(1) if organization_match else ""
    try:
        token = _token_or_none(simulator, request)
        user_key = token.user.id if token else f"anonymous {request.client_host}"
        rate_limit_headers = simulator.rate_limiter.check(simulator.config.rate_limit, organization, user_key, now)
    except ApiError as error:
        return error_response(error)

    try:
        route, params = ROUTER.match(request.method, request.path)
        route_name = route.name
        request.params = params
        token = simulator.tokens.authenticate(request.headers.get("Authorization"))
        if route.scope:
            require_scope(token, route.scope)
        with simulator.lock:
            if "organization" in params:
                if params["organization"] not in simulator.world.organizations:
                    raise ApiError(404, "No organization found")
                require_organization_access(token, params["organization"])
            result = route.handler(simulator, request, token, api_base, now)
        if isinstance(result, Response):
            response = result
            response.headers = {**rate_limit_headers, **response.headers}
        else:
            status, payload = result
            response = json_response(status, payload, rate_limit_headers)
    except ApiError as error:
        response = error_response(error)
        response.headers = {**rate_limit_headers, **response.headers}
    response.route_name = route_name
    return response


def _token_or_none(simulator, request):
    try:
        return simulator.tokens.authenticate(request.headers.get("Authorization"))
    except ApiError:
        return None


def parse_boolean(request, name, default):
    """Return query parameter ``name`` as a bool; absent or unrecognized values give ``default``."""
    value = request.query_value(name)
    if value is None:
        return default
    if value.lower() in _TRUE_VALUES:
        return True
    if value.lower() in _FALSE_VALUES:
        return False
    return default


def get_access_token(simulator, request, token, api_base, now):
    return 200, {
        "uuid": token.uuid,
        "scopes": sorted(token.scopes),
        "description": token.description,
        "created_at": format_timestamp(token.created_at),
        "expires_at": None,
        "user": user_json(token.user),
    }


def get_build(simulator, request, token, api_base, now):
    build = find_build(simulator, request.params)
    job_states = request.query.get("job_states[]", []) + request.query.get("job_states", [])
    return 200, build_json(
        api_base,
        build,
        now,
        include_retried_jobs=parse_boolean(request, "include_retried_jobs", False),
        exclude_jobs=parse_boolean(request, "exclude_jobs", False),
        exclude_pipeline=parse_boolean(request, "exclude_pipeline", False),
        job_states=set(job_states),
    )


def get_job(simulator, request, token, api_base, now):
    job = find_job(simulator, request.params)
    return 200, job_json(api_base, job, now)


def retry_job(simulator, request, token, api_base, now):
    job = find_job(simulator, request.params)
    new_job = simulator.world.retry_job(job, token.user, now, simulator.config.already_retried_status)
    return 200, job_json(api_base, new_job, now)


def unblock_job(simulator, request, token, api_base, now):
    """Unblock a block step with the optional body ``{"unblocker": <user UUID>, "fields": {...}}``."""
    job = find_job(simulator, request.params)
    body = request.json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    simulator.world.unblock_job(job, token.user, body, simulator.config, now)
    return 200, job_json(api_base, job, now)


def list_jobs(simulator, request, token, api_base, now):
    """List a build's jobs with cursor pagination in the body: ``{"items": [...], "links": {...}}``."""
    build = find_build(simulator, request.params)
    per_page = _per_page(request)
    states = request.query.get("state[]", []) + request.query.get("state", [])
    invalid_states = sorted(set(states) - set(JOB_STATES))
    if invalid_states:
        raise ApiError(400, f"Invalid state: {', '.join(invalid_states)}. Valid states are: {', '.join(JOB_STATES)}")
    step_key = request.query_value("step_key")
    group_key = request.query_value("group_key")
    include_retried_jobs = parse_boolean(request, "include_retried_jobs", True)

    ordered = build.ordered_jobs()
    position = {job.id: index for index, job in enumerate(ordered)}
    matching = [
        job
        for job in ordered
        if (include_retried_jobs or not job.retried)
        and (not states or job.state_at(now) in states)
        and (step_key is None or job.definition.step_key == step_key)
        and (group_key is None or job.definition.group_key == group_key)
    ]

    after = _decode_cursor(request, "after", position)
    before = _decode_cursor(request, "before", position)
    window = [
        job
        for job in matching
        if (after is None or position[job.id] > after) and (before is None or position[job.id] < before)
    ]
    # A "before" cursor pages backwards, so the page is the end of the window.
    page = window[-per_page:] if before is not None and after is None else window[:per_page]

    links = _page_links(request, api_base, page, matching)
    return 200, {"items": [job_json(api_base, job, now) for job in page], "links": links}


def _per_page(request):
    value = request.query_value("per_page")
    if value is None:
        return DEFAULT_PER_PAGE
    if not value.isdigit() or not 1 <= int(value) <= MAX_PER_PAGE:
        raise ApiError(400, f"per_page must be an integer between 1 and {MAX_PER_PAGE}, got {value!r}")
    return int(value)


def encode_cursor(job):
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{job.id}".encode()).decode().rstrip("=")


def _decode_cursor(request, name, position):
    """Return the list position of the job that cursor ``name`` points at, None when absent; raise 400 when invalid."""
    cursor = request.query_value(name)
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    job_id = normalize_uuid(text.removeprefix(_CURSOR_PREFIX)) if text.startswith(_CURSOR_PREFIX) else None
    if job_id not in position:
        raise ApiError(400, f"Invalid cursor in {name}: {cursor!r}")
    return position[job_id]


def _page_links(request, api_base, page, matching):
    """Return the ``self``, ``first``, ``next`` and ``prev`` links; ``next`` and ``prev`` are null at the ends.

    ``matching`` is every job that passes the filters, whatever the cursors.
    """
    path = api_base + request.path.removeprefix(API_PREFIX)
    query_without_cursors = [
        (name, value) for name, values in request.query.items() for value in values if name not in ("after", "before")
    ]

    def link(extra):
        query = urlencode(query_without_cursors + extra)
        return f"{path}?{query}" if query else path

    self_link = f"{path}?{request.query_string}" if request.query_string else path
    next_link = None
    prev_link = None
    if page:
        if matching.index(page[-1]) < len(matching) - 1:
            next_link = link([("after", encode_cursor(page[-1]))])
        if matching.index(page[0]) > 0:
            prev_link = link([("before", encode_cursor(page[0]))])
    return {"self": self_link, "first": link([]), "next": next_link, "prev": prev_link}


def _build_router():
    router = Router()
    router.add("GET", "/v2/access-token", get_access_token, "get_access_token")
    router.add("GET", BUILD_PATH, get_build, "get_build", scope="read_builds")
    router.add("GET", f"{BUILD_PATH}/jobs", list_jobs, "list_jobs", scope="read_builds")
    router.add("GET", f"{BUILD_PATH}/jobs/{{job_id}}", get_job, "get_job", scope="read_builds")
    router.add("GET", f"{ORGANIZATION_PATH}/jobs/{{job_id}}", get_job, "get_job", scope="read_builds")
    router.add("PUT", f"{BUILD_PATH}/jobs/{{job_id}}/retry", retry_job, "retry_job", scope="write_builds")
    router.add("PUT", f"{ORGANIZATION_PATH}/jobs/{{job_id}}/retry", retry_job, "retry_job", scope="write_builds")
    router.add("PUT", f"{BUILD_PATH}/jobs/{{job_id}}/unblock", unblock_job, "unblock_job", scope="write_builds")
    router.add("PUT", f"{ORGANIZATION_PATH}/jobs/{{job_id}}/unblock", unblock_job, "unblock_job", scope="write_builds")
    for job_path in (f"{BUILD_PATH}/jobs/{{job_id}}", f"{ORGANIZATION_PATH}/jobs/{{job_id}}"):
        for suffix, suffix_type in (("log", None), ("log.txt", TEXT), ("log.html", HTML)):
            router.add("GET", f"{job_path}/{suffix}", log_handler(suffix_type), "get_job_log", scope="read_build_logs")
        router.add("DELETE", f"{job_path}/log", delete_job_log, "delete_job_log", scope="write_build_logs")
        for suffix, suffix_type in (("env", None), ("env.txt", TEXT)):
            router.add("GET", f"{job_path}/{suffix}", env_handler(suffix_type), "get_job_env", scope="read_job_env")
    return router


ROUTER = _build_router()
