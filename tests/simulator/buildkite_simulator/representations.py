"""JSON representations of users, pipelines, builds and jobs, in the shape of Buildkite's REST API.

API URLs (``url``, ``build_url``, ``log_url``...) point at the simulator itself through
``api_base`` (``http://127.0.0.1:PORT/v2``). Web URLs point at buildkite.com; they are data
for clients to show and are never requested.
"""

import uuid
from collections import Counter

from .clock import format_timestamp
from .model import encode_graphql_id

WEB_BASE = "https://buildkite.com"

# NOTE: the agent object is an example with the keys of Buildkite's agent data model; a
# scenario cannot configure it yet.
AGENT_VERSION = "3.95.1"


def user_json(user):
    if user is None:
        return None
    return {
        "id": user.id,
        "graphql_id": user.graphql_id,
        "name": user.name,
        "email": user.email,
        "avatar_url": user.avatar_url,
        "created_at": format_timestamp(user.created_at),
    }


def build_api_url(api_base, build):
    return f"{api_base}/organizations/{build.organization}/pipelines/{build.pipeline.slug}/builds/{build.number}"


def build_web_url(build):
    return f"{WEB_BASE}/{build.organization}/{build.pipeline.slug}/builds/{build.number}"


def job_api_url(api_base, job):
    return f"{build_api_url(api_base, job.build)}/jobs/{job.id}"


def pipeline_json(api_base, pipeline):
    api_url = f"{api_base}/organizations/{pipeline.organization}/pipelines/{pipeline.slug}"
    return {
        "id": pipeline.id,
        "graphql_id": encode_graphql_id("Pipeline", pipeline.id),
        "url": api_url,
        "web_url": f"{WEB_BASE}/{pipeline.organization}/{pipeline.slug}",
        "name": pipeline.name,
        "slug": pipeline.slug,
        "repository": pipeline.repository,
        "default_branch": pipeline.default_branch,
        "builds_url": f"{api_url}/builds",
        "visibility": "private",
    }


def agent_json(api_base, job):
    """Return the agent that ran ``job``: one agent per organization, with a UUID derived from its slug."""
    organization = job.build.organization
    agent_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"buildkite-simulator/agent/{organization}"))
    return {
        "id": agent_id,
        "graphql_id": encode_graphql_id("Agent", agent_id),
        "url": f"{api_base}/organizations/{organization}/agents/{agent_id}",
        "web_url": f"{WEB_BASE}/organizations/{organization}/agents/{agent_id}",
        "name": "sim-agent-1",
        "connection_state": "connected",
        "hostname": "sim-agent-1",
        "ip_address": "127.0.0.1",
        "user_agent": f"buildkite-agent/{AGENT_VERSION} (linux; amd64)",
        "version": AGENT_VERSION,
        "creator": None,
        "created_at": format_timestamp(job.build.created_at),
        "priority": 0,
        "meta_data": list(job.definition.agent_query_rules),
    }


def job_json(api_base, job, now, in_build=False):
    """Return ``job`` as the Jobs API does, with its state at simulated time ``now``.

    ``in_build`` adds ``group_key``, which only the builds endpoints return.
    """
    definition = job.definition
    build = job.build
    state = job.state_at(now)
    api_url = job_api_url(api_base, job)
    exit_status, signal, signal_reason = job.exit_details(now)
    runs_on_agent = job.type == "script"

    body = {
        "id": job.id,
        "graphql_id": job.graphql_id,
        "type": job.type,
    }
    # Block and trigger jobs carry a label; command and wait jobs a name.
    if job.type in ("manual", "trigger"):
        body["label"] = definition.name
    else:
        body["name"] = definition.name
    body.update(
        {
            "step_key": definition.step_key,
            "step": {"id": definition.step_id, "signature": None},
            "priority": {"number": 0},
            "agent_query_rules": list(definition.agent_query_rules) if runs_on_agent else [],
            "state": state,
            "build_url": build_api_url(api_base, build),
            "web_url": f"{build_web_url(build)}#{job.id}",
            "log_url": f"{api_url}/log" if runs_on_agent else None,
            "raw_log_url": f"{api_url}/log.txt" if runs_on_agent else None,
            "artifacts_url": f"{api_url}/artifacts" if runs_on_agent else None,
            "command": definition.command if runs_on_agent else None,
            "soft_failed": definition.soft_failed and state == "failed",
            "exit_status": exit_status,
            "signal": signal,
            "signal_reason": signal_reason,
            "broken_reason": None,
            "artifact_paths": None,
            "agent": agent_json(api_base, job) if runs_on_agent and job.has_started(now) else None,
            "created_at": format_timestamp(job.created_at),
            "scheduled_at": format_timestamp(job.scheduled_at),
            "runnable_at": format_timestamp(job.runnable_at),
            "started_at": format_timestamp(job.started_at) if job.has_started(now) else None,
            "finished_at": format_timestamp(job.finished_at) if job.has_finished(now) else None,
            "expired_at": None,
            "concurrency_wait_time_ms": None,
            "retried": job.retried,
            "retried_in_job_id": job.retried_in_job_id,
            "retries_count": job.retries_count,
            "retry_type": job.retry_type,
            "retry_source": dict(job.retry_source) if job.retry_source else None,
            "retried_by": user_json(job.retried_by),
            "parallel_group_index": definition.parallel_group_index,
            "parallel_group_total": definition.parallel_group_total,
            "matrix": None,
            "cluster_id": None,
            "cluster_url": None,
            "cluster_queue_id": None,
            "cluster_queue_url": None,
        }
    )
    if in_build:
        body["group_key"] = definition.group_key
    if job.type == "manual":
        # NOTE: a captured Buildkite response shows "web_url": null on an unblocked block step.
        # The simulator keeps the web URL, so clients should depend on neither.
        body.update(
            {
                "unblocked_by": user_json(job.unblocked_by),
                "unblocked_at": format_timestamp(job.unblocked_at),
                "unblockable": build.is_unblockable(job, now),
                "unblock_url": f"{api_url}/unblock",
            }
        )
    if job.type == "trigger":
        body.update({"async": False, "triggered_build": None})
    return body


def job_state_counts(jobs, now):
    """Return ``{"total": n, "states": {state: count}}`` for ``jobs``, listing only states that occur."""
    counts = Counter(job.state_at(now) for job in jobs)
    return {"total": len(jobs), "states": dict(sorted(counts.items()))}


def build_json(
    api_base, build, now, include_retried_jobs=False, exclude_jobs=False, exclude_pipeline=False, job_states=None
):
    """Return ``build`` as Get a build does.

    By default ``jobs`` holds only the latest attempt of each job; ``include_retried_jobs``
    adds the superseded attempts. ``job_state_counts`` counts the same set of jobs before the
    ``job_states`` filter applies.
    """
    jobs = build.ordered_jobs() if include_retried_jobs else build.latest_jobs()
    api_url = build_api_url(api_base, build)
    body = {
        "id": build.id,
        "graphql_id": build.graphql_id,
        "url": api_url,
        "web_url": build_web_url(build),
        "number": build.number,
        "state": build.state_at(now),
        "blocked": build.is_blocked_at(now),
        "cancel_reason": None,
        "message": build.message,
        "commit": build.commit,
        "branch": build.branch,
        "tag": None,
        "env": {},
        "source": build.source,
        "author": None,
        "creator": user_json(build.creator),
        "created_at": format_timestamp(build.created_at),
        "scheduled_at": format_timestamp(build.created_at),
        "started_at": format_timestamp(build.started_at(now)),
        "finished_at": format_timestamp(build.finished_at(now)),
        "meta_data": dict(build.meta_data),
        "pull_request": None,
        "rebuilt_from": None,
        "job_state_counts": job_state_counts(jobs, now),
    }
    if not exclude_jobs:
        selected = [job for job in jobs if not job_states or job.state_at(now) in job_states]
        body["jobs"] = [job_json(api_base, job, now, in_build=True) for job in selected]
    if not exclude_pipeline:
        body["pipeline"] = pipeline_json(api_base, build.pipeline)
    return body
