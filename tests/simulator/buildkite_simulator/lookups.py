"""Lookups of the build and job that an API route's path names, with the API's 404 errors."""

from .errors import ApiError


def find_build(simulator, params):
    """Return the build of a build-scoped route (``organization``, ``pipeline``, ``number``), or raise a 404."""
    number = params["number"]
    if not number.isdigit():
        raise ApiError(404, "No build found")
    return simulator.world.find_build(params["organization"], params["pipeline"], int(number))


def find_job(simulator, params):
    """Find the job of a build-scoped route (``pipeline`` and ``number`` in params) or an org-scoped one."""
    build = find_build(simulator, params) if "pipeline" in params else None
    return simulator.world.find_job(params["organization"], params["job_id"], build=build)
