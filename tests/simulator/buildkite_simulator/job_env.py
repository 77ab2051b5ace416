"""The job env route: Buildkite's standard variables of a job plus the scenario's ``env``, as JSON or dotenv text.

A command job's environment is the build's variables, the job's variables, the unblocker of the
nearest unblocked block step before it, the build's scenario ``env`` and the job's scenario
``env``, in that order, with names sorted. Block, wait and trigger jobs do not run on an agent,
so they get only the build's variables and the build's scenario ``env``.
"""

import re

from .lookups import find_job
from .negotiation import CONTENT_TYPES, JSON, TEXT, choose_media_type
from .representations import build_web_url
from .routing import Response, json_response

# Names that a scenario's env may use: letters, digits and underscores, not starting with a digit.
ENV_NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Media types that GET .../env offers through the Accept header, the default first.
ENV_MEDIA_TYPES = (JSON, TEXT)

# Characters that the dotenv text escapes inside a double-quoted value.
_DOTENV_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "$": "\\$"}


def is_reserved_env_name(name):
    """Return whether Buildkite sets the variable ``name`` itself, so a scenario may not."""
    return name in ("BUILDKITE", "CI") or name.startswith("BUILDKITE_")


def build_variables(build):
    """Return the variables that every job of ``build`` gets."""
    pipeline = build.pipeline
    return {
        "BUILDKITE": "true",
        "CI": "true",
        "BUILDKITE_ORGANIZATION_SLUG": build.organization,
        "BUILDKITE_PIPELINE_SLUG": pipeline.slug,
        "BUILDKITE_PIPELINE_NAME": pipeline.name,
        "BUILDKITE_PIPELINE_ID": pipeline.id,
        "BUILDKITE_PIPELINE_DEFAULT_BRANCH": pipeline.default_branch,
        "BUILDKITE_REPO": pipeline.repository,
        "BUILDKITE_BUILD_ID": build.id,
        "BUILDKITE_BUILD_NUMBER": str(build.number),
        "BUILDKITE_BUILD_URL": build_web_url(build),
        "BUILDKITE_BRANCH": build.branch,
        "BUILDKITE_COMMIT": build.commit,
        "BUILDKITE_MESSAGE": build.message,
        "BUILDKITE_TAG": "",
        "BUILDKITE_SOURCE": build.source,
        "BUILDKITE_PULL_REQUEST": "false",
        "BUILDKITE_BUILD_CREATOR": build.creator.name,
        "BUILDKITE_BUILD_CREATOR_EMAIL": build.creator.email,
    }


def command_job_variables(job):
    """Return the variables of a command job's own step and attempt."""
    definition = job.definition
    variables = {
        "BUILDKITE_JOB_ID": job.id,
        "BUILDKITE_STEP_ID": definition.step_id,
        "BUILDKITE_LABEL": definition.name or "",
        "BUILDKITE_COMMAND": definition.command or "",
        "BUILDKITE_RETRY_COUNT": str(job.retries_count or 0),
        "BUILDKITE_ARTIFACT_PATHS": "",
    }
    if definition.step_key is not None:
        variables["BUILDKITE_STEP_KEY"] = definition.step_key
    if definition.group_key is not None:
        variables["BUILDKITE_GROUP_KEY"] = definition.group_key
    if definition.parallel_group_total is not None:
        variables["BUILDKITE_PARALLEL_JOB"] = str(definition.parallel_group_index)
        variables["BUILDKITE_PARALLEL_JOB_COUNT"] = str(definition.parallel_group_total)
    return variables


def unblocker_variables(job):
    """Return the ``BUILDKITE_UNBLOCKER*`` variables of the nearest unblocked block step before ``job``, if any."""
    position = job.definition.position
    earlier_blocks = [
        other
        for other in job.build.latest_jobs()
        if other.type == "manual" and other.definition.position < position and other.unblocked_by is not None
    ]
    if not earlier_blocks:
        return {}
    unblocker = earlier_blocks[-1].unblocked_by
    # NOTE: Buildkite documents BUILDKITE_UNBLOCKER (the name), _EMAIL, _ID and _TEAMS; _NAME
    # repeats the name for clients that look for it, and no Buildkite source shows it.
    return {
        "BUILDKITE_UNBLOCKER": unblocker.name,
        "BUILDKITE_UNBLOCKER_ID": unblocker.id,
        "BUILDKITE_UNBLOCKER_EMAIL": unblocker.email,
        "BUILDKITE_UNBLOCKER_NAME": unblocker.name,
        "BUILDKITE_UNBLOCKER_TEAMS": ":".join(unblocker.teams),
    }


def job_environment(job):
    """Return the job's environment variables, all values strings, sorted by name."""
    build = job.build
    variables = build_variables(build)
    if job.type == "script":
        variables.update(command_job_variables(job))
        variables.update(unblocker_variables(job))
        variables.update(build.env)
        variables.update(job.definition.env)
    else:
        variables.update(build.env)
    return dict(sorted(variables.items()))


def dotenv_text(variables):
    """Return ``KEY="VALUE"`` lines in which ``\\``, ``"``, newline, carriage return and ``$`` are escaped."""
    lines = []
    for name, value in variables.items():
        quoted = "".join(_DOTENV_ESCAPES.get(character, character) for character in value)
        lines.append(f'{name}="{quoted}"\n')
    return "".join(lines)


def env_handler(suffix_type):
    """Return the GET (and HEAD) handler of ``.../env`` or ``.../env.txt``."""

    def get_job_env(simulator, request, token, api_base, now):
        job = find_job(simulator, request.params)
        media_type = choose_media_type(request.headers.get("Accept"), suffix_type, ENV_MEDIA_TYPES)
        variables = job_environment(job)
        if media_type == TEXT:
            return Response(200, body=dotenv_text(variables).encode(), content_type=CONTENT_TYPES[TEXT])
        return json_response(200, {"env": variables})

    return get_job_env
