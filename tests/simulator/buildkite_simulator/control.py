"""The control API under ``/_sim/``: reset, config, tokens, faults, clock, request log, job internals.

It needs no token, serves only loopback clients, is not rate limited, takes no faults and is
not logged. Bodies are JSON in and out, and invalid input gets a 400 with a ``message``.
"""

import ipaddress
import logging

from .clock import format_timestamp
from .errors import ApiError
from .job_logs import visible_log_size
from .representations import job_json, user_json
from .routing import Router, error_response, json_response
from .scenarios import token_from_spec

logger = logging.getLogger("buildkite_simulator")


def handle_control_request(simulator, request, api_base):
    try:
        if not ipaddress.ip_address(request.client_host).is_loopback:
            raise ApiError(403, "The control API accepts only loopback clients")
        route, params = CONTROL_ROUTER.match(request.method, request.path)
        request.params = params
        status, payload = route.handler(simulator, request, api_base)
        return json_response(status, payload)
    except ApiError as error:
        logger.info(
            "control request %s %s failed with %s: %s", request.method, request.path, error.status, error.message
        )
        return error_response(error)
    except ValueError as error:
        # Invalid config, faults, tokens and scenarios (ScenarioError is a ValueError).
        logger.info("control request %s %s rejected: %s", request.method, request.path, error)
        return json_response(400, {"message": str(error)})


def _object_body(request):
    body = request.json_body()
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    return body


def reset(simulator, request, api_base):
    body = _object_body(request)
    scenario = body.get("scenario")
    if scenario is not None and not isinstance(scenario, str):
        raise ApiError(400, f"scenario must be a scenario name or a path to a JSON file, got {scenario!r}")
    changes = body.get("config", {})
    if not isinstance(changes, dict):
        raise ApiError(400, f"config must be a JSON object of settings, got {changes!r}")
    # Settings in the same request apply before any other request reaches the new scenario, so a
    # test can load a scenario with its clock stopped (config {"time_scale": 0}).
    simulator.config.updated(changes)  # raises ValueError (a 400) before the scenario is replaced
    with simulator.lock:
        simulator.reset(scenario)
        if changes:
            simulator.update_config(changes)
    return 200, simulator.scenario_summary(api_base)


def get_scenario(simulator, request, api_base):
    return 200, simulator.scenario_summary(api_base)


def get_requests(simulator, request, api_base):
    return 200, {"requests": simulator.request_log.entries()}


def clear_requests(simulator, request, api_base):
    simulator.request_log.clear()
    return 200, {"requests": []}


def get_config(simulator, request, api_base):
    return 200, simulator.config.to_json()


def update_config(simulator, request, api_base):
    return 200, simulator.update_config(_object_body(request)).to_json()


def add_token(simulator, request, api_base):
    body = _object_body(request)
    with simulator.lock:
        token = token_from_spec(body, simulator.world, simulator.now())
        simulator.tokens.add(token)
    organizations = sorted(token.organizations) if token.organizations is not None else None
    return 200, {
        "uuid": token.uuid,
        "scopes": sorted(token.scopes),
        "organizations": organizations,
        "user": user_json(token.user),
    }


def get_faults(simulator, request, api_base):
    return 200, {"faults": simulator.faults.to_json()}


def add_faults(simulator, request, api_base):
    body = _object_body(request)
    if "faults" not in body:
        raise ApiError(400, 'The body needs "faults", a list of fault objects')
    simulator.faults.add(body["faults"])
    return 200, {"faults": simulator.faults.to_json()}


def clear_faults(simulator, request, api_base):
    simulator.faults.clear()
    return 200, {"faults": []}


def _clock_json(simulator):
    now = simulator.now()
    return {
        "now": format_timestamp(now),
        "epoch": now,
        "time_scale": simulator.clock.time_scale,
        "advanced_seconds": simulator.clock.advanced_seconds,
    }


def get_clock(simulator, request, api_base):
    return 200, _clock_json(simulator)


def update_clock(simulator, request, api_base):
    body = _object_body(request)
    unknown = sorted(set(body) - {"advance", "time_scale"})
    if unknown:
        raise ApiError(400, f"Unknown clock keys {unknown}; valid keys: advance, time_scale")
    advance = body.get("advance", 0)
    if isinstance(advance, bool) or not isinstance(advance, (int, float)) or advance < 0:
        raise ApiError(400, f"advance must be a number of seconds, 0 or more, got {advance!r}")
    if "time_scale" in body:
        simulator.update_config({"time_scale": body["time_scale"]})
    simulator.clock.advance(advance)
    return 200, _clock_json(simulator)


def get_job_internals(simulator, request, api_base):
    """Return the simulator's whole view of a job, looked up by UUID or scenario alias."""
    with simulator.lock:
        world = simulator.world
        key = request.params["job_id"]
        job = world.jobs.get(world.aliases.get(key, key.lower()))
        if job is None:
            raise ApiError(404, f"No job with id or alias {key!r} in scenario {world.scenario_name}")
        now = simulator.now()
        definition = job.definition
        return 200, {
            "id": job.id,
            "alias": job.alias,
            "organization": job.build.organization,
            "pipeline": job.build.pipeline.slug,
            "build_number": job.build.number,
            "build_canceled": job.build.is_canceled,
            "type": job.type,
            "step_key": definition.step_key,
            "attempt": job.attempt,
            "state": job.state_at(now),
            "fixed_state": job.fixed_state,
            "outcome": job.outcome,
            "times_retried": job.times_retried,
            "retried": job.retried,
            "retried_in_job_id": job.retried_in_job_id,
            "attempts": list(definition.attempts),
            "permit_on_passed": definition.permit_on_passed,
            "block": definition.block.to_json() if definition.block else None,
            "unblockable": job.build.is_unblockable(job, now),
            "times_unblocked": job.times_unblocked,
            "unblock_fields": dict(job.unblock_fields) if job.unblock_fields is not None else None,
            "waits_for_block": job.waits_for_block,
            "log_size": visible_log_size(job, now),
            "log_deleted": job.log_deleted,
            "times_log_deleted": job.times_log_deleted,
            "durations": {"scheduled": definition.scheduled_seconds, "running": definition.running_seconds},
            "planned": {
                "created_at": format_timestamp(job.created_at),
                "started_at": format_timestamp(job.started_at),
                "finished_at": format_timestamp(job.finished_at),
            },
            "job": job_json(api_base, job, now),
        }


def _build_router():
    router = Router()
    router.add("POST", "/_sim/reset", reset, "reset")
    router.add("GET", "/_sim/scenario", get_scenario, "get_scenario")
    router.add("GET", "/_sim/requests", get_requests, "get_requests")
    router.add("DELETE", "/_sim/requests", clear_requests, "clear_requests")
    router.add("GET", "/_sim/config", get_config, "get_config")
    router.add("POST", "/_sim/config", update_config, "update_config")
    router.add("POST", "/_sim/tokens", add_token, "add_token")
    router.add("GET", "/_sim/faults", get_faults, "get_faults")
    router.add("POST", "/_sim/faults", add_faults, "add_faults")
    router.add("DELETE", "/_sim/faults", clear_faults, "clear_faults")
    router.add("GET", "/_sim/clock", get_clock, "get_clock")
    router.add("POST", "/_sim/clock", update_clock, "update_clock")
    router.add("GET", "/_sim/jobs/{job_id}", get_job_internals, "get_job_internals")
    return router


CONTROL_ROUTER = _build_router()
