"""The job log routes: get a log as JSON, text or HTML, its size with HEAD, its tail with a suffix Range, and delete it.

A GET passes these checks in order:
1. the job: 404 ``No job found``;
2. its log: 404 ``No log found`` for jobs that do not run on an agent, and for a deleted log
   unless ``deleted_log_response`` is ``empty``;
3. the format: 406;
4. with a Range header, the log's size (416 when empty), the format (400 unless text) and the
   range's form (400 unless ``bytes=-N``);
5. for JSON and HTML, the size limit: 413.

HEAD responds after the format check and ignores Range.
"""

import math
import re
from dataclasses import dataclass

from .errors import ApiError
from .log_content import TextLog, default_log
from .log_render import html_chunks, json_chunks
from .lookups import find_job
from .negotiation import CONTENT_TYPES, HTML, JSON, TEXT, choose_media_type
from .representations import job_api_url
from .routing import Response, StreamedBody

NO_LOG_FOUND = "No log found"

# Media types that GET .../log offers through the Accept header, the default first.
LOG_MEDIA_TYPES = (JSON, TEXT, HTML)

# Responses up to this size are built in memory; larger ones stream.
STREAM_THRESHOLD_BYTES = 4 * 1024 * 1024

_SUFFIX_RANGE = re.compile(r"bytes=-(\d+)")

_EMPTY_LOG = TextLog([])


@dataclass
class LogSnapshot:
    """The part of a job's log that one request reads: the content and how many of its bytes are visible."""

    content: object
    size: int
    started_at: float | None


def job_log_content(job):
    """Return the log content of the job's attempt, or None for jobs that do not run on an agent."""
    if job.type != "script":
        return None
    logs = job.definition.logs
    if logs:
        return logs[min(job.attempt, len(logs) - 1)]
    return default_log(job)


def log_elapsed(job, now):
    """Return the seconds since the job started, infinity once it has finished, or None before it starts."""
    if not job.has_started(now):
        return None
    if job.has_finished(now):
        return math.inf
    return now - job.started_at


def visible_log_size(job, now):
    """Return the byte count of the job's log as GET would send it, or None when GET would send a 404."""
    content = job_log_content(job)
    if content is None:
        return None
    if job.log_deleted:
        return 0
    return content.size_at(log_elapsed(job, now))


def snapshot_log(job, now, config):
    """Return the part of the job's log that a GET at ``now`` reads, or raise the API's 404."""
    content = job_log_content(job)
    if content is None:
        raise ApiError(404, NO_LOG_FOUND)
    if job.log_deleted:
        if config.deleted_log_response == "not_found":
            raise ApiError(404, NO_LOG_FOUND)
        return LogSnapshot(_EMPTY_LOG, 0, job.started_at)
    return LogSnapshot(content, content.size_at(log_elapsed(job, now)), job.started_at)


def log_handler(suffix_type):
    """Return the GET (and HEAD) handler of ``.../log``, ``.../log.txt`` or ``.../log.html``."""

    def get_job_log(simulator, request, token, api_base, now):
        job = find_job(simulator, request.params)
        snapshot = snapshot_log(job, now, simulator.config)
        media_type = choose_media_type(request.headers.get("Accept"), suffix_type, LOG_MEDIA_TYPES)
        headers = {"Accept-Ranges": "bytes"}
        if request.method == "HEAD":
            # Buildkite documents the HEAD Content-Length as the stored log's size, whatever the format.
            return Response(200, content_type=CONTENT_TYPES[media_type], headers=headers, content_length=snapshot.size)
        range_header = request.headers.get("Range")
        if range_header is not None:
            return _range_response(snapshot, media_type, range_header)
        if media_type == TEXT:
            return _body_response(
                lambda: snapshot.content.chunks(0, snapshot.size), TEXT, headers, snapshot.size, snapshot.size
            )

        _check_render_limit(snapshot.size, simulator.config.max_rendered_log_bytes)
        if media_type == HTML:
            return _body_response(lambda: html_chunks(snapshot.content, snapshot.size), HTML, headers, snapshot.size)
        url = f"{job_api_url(api_base, job)}/log"
        header_times = snapshot.content.header_times(snapshot.size, snapshot.started_at)
        return _body_response(
            lambda: json_chunks(url, snapshot.content, snapshot.size, header_times), JSON, headers, snapshot.size
        )

    return get_job_log


def _body_response(make_chunks, media_type, headers, log_size, length=None):
    """Return a 200 whose body ``make_chunks()`` yields, built in memory for a small log and streamed for a large one.

    ``length`` is the body's length when known; a streamed body of unknown length is counted by
    a first run of ``make_chunks``.
    """
    content_type = CONTENT_TYPES[media_type]
    if log_size <= STREAM_THRESHOLD_BYTES:
        return Response(200, body=b"".join(make_chunks()), content_type=content_type, headers=headers)
    return Response(200, content_type=content_type, headers=headers, stream=StreamedBody(make_chunks, length))


def _check_render_limit(size, limit):
    if limit is not None and size > limit:
        raise ApiError(
            413,
            f"The log is {size} bytes, more than the {limit} bytes that JSON and HTML responses render; "
            "read it as text from log.txt or with Accept: text/plain",
        )


def _range_response(snapshot, media_type, range_header):
    """Return the 206 of a suffix range ``bytes=-N``: the last N bytes, or all of them when N is at least the size."""
    size = snapshot.size
    if size == 0:
        raise ApiError(416, "The log is empty, so no byte range of it exists", headers={"Content-Range": "bytes */0"})
    if media_type != TEXT:
        raise ApiError(400, "Range requests need Accept: text/plain or the log.txt route")
    match = _SUFFIX_RANGE.fullmatch(range_header.strip())
    if match is None or int(match.group(1)) == 0:
        raise ApiError(400, f"Only suffix byte ranges such as bytes=-1000 are supported, got {range_header!r}")
    length = min(int(match.group(1)), size)
    start = size - length
    headers = {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{size - 1}/{size}"}
    body = StreamedBody(lambda: snapshot.content.chunks(start, size), length)
    return Response(206, content_type=CONTENT_TYPES[TEXT], headers=headers, stream=body)


def delete_job_log(simulator, request, token, api_base, now):
    """Delete the job's log: 204, or 404 when the job has no log (or, with ``not_found``, had it deleted already)."""
    job = find_job(simulator, request.params)
    if job_log_content(job) is None:
        raise ApiError(404, NO_LOG_FOUND)
    if job.log_deleted and simulator.config.deleted_log_response == "not_found":
        raise ApiError(404, NO_LOG_FOUND)
    job.log_deleted = True
    job.times_log_deleted += 1
    return Response(204)
