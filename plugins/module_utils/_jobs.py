# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Job addressing, reading, retry-chain following and waiting, shared by modules and the lookup."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import quote, urlsplit

from ansible_collections.opskite.buildkite.plugins.module_utils._client import (
    BuildkiteConfigError,
    BuildkiteError,
    BuildkiteOutcomeUnknownError,
)

UUID_PATTERN = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
# Buildkite derives organization and pipeline slugs from names: lowercase letters, digits, '-' and '_'.
SLUG_PATTERN = re.compile(r'^[a-z0-9][a-z0-9_-]{0,99}$')
STEP_KEY_PATTERN = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_:./-]{0,99}$')
WEB_BUILD_PATH = re.compile(r'^/(?P<organization>[^/]+)/(?P<pipeline>[^/]+)/builds/(?P<build>[^/]+)/?$')
API_BUILD_PATH = re.compile(
    r'/organizations/(?P<organization>[^/]+)/pipelines/(?P<pipeline>[^/]+)/builds/(?P<build>[0-9]+)'
)
MAX_BUILD_NUMBER = 2**31 - 1
# Buildkite's web interface, where users copy build and job URLs from, is served from buildkite.com.
WEB_HOSTS = frozenset(('buildkite.com', 'www.buildkite.com'))
# Sources of an addressing value, for messages about a conflict with url.
SOURCES = {'organization': 'the task, module_defaults or BUILDKITE_ORGANIZATION_SLUG'}
DEFAULT_SOURCE = 'the task or module_defaults'

# States after which a job no longer changes by itself (REST job states, Buildkite docs
# "Job states"). A retried job may still be superseded by a new attempt.
FINISHED_STATES = frozenset(
    (
        'passed',
        'failed',
        'timed_out',
        'canceled',
        'skipped',
        'broken',
        'expired',
        'waiting_failed',
        'blocked_failed',
        'unblocked_failed',
        'finished',
    )
)
# Build states in which the API refuses to retry or unblock jobs.
CANCELED_BUILD_STATES = frozenset(('canceled', 'canceling'))
# States the API lets a manual retry start from; passed also qualifies when the step sets
# retry.manual.permit_on_passed, which the REST job object does not show.
RETRYABLE_STATES = frozenset(('failed', 'timed_out', 'canceled'))
MAX_RETRY_CHAIN = 100


class BuildkiteActionError(BuildkiteError):
    """An operation on a job failed; the message names the action, the job and where it is."""


class BuildkiteWaitTimeout(BuildkiteActionError):
    """Waiting for a job ran out of time; ``job`` is the last job object read."""

    def __init__(self, message, job):
        super(BuildkiteWaitTimeout, self).__init__(message)
        self.job = job


class JobTarget(object):
    """Location of a job: the organization, and the pipeline and build when they are known."""

    def __init__(self, organization, pipeline=None, build=None, job_id=None, step_key=None):
        self.organization = organization
        self.pipeline = pipeline
        self.build = build
        self.job_id = job_id
        self.step_key = step_key

    @property
    def build_scoped(self):
        return self.pipeline is not None and self.build is not None

    def build_path(self):
        return '/organizations/%s/pipelines/%s/builds/%d' % (
            quote(self.organization, safe=''),
            quote(self.pipeline, safe=''),
            self.build,
        )

    def job_path(self, job_id, suffix=''):
        """Return the job's API path: build-scoped when pipeline and build are known."""
        if self.build_scoped:
            base = '%s/jobs/%s' % (self.build_path(), quote(job_id, safe=''))
        else:
            base = '/organizations/%s/jobs/%s' % (quote(self.organization, safe=''), quote(job_id, safe=''))
        return base + suffix

    def location(self):
        if self.build_scoped:
            return '%s/%s#%d' % (self.organization, self.pipeline, self.build)
        return self.organization

    def describe(self, job_id=None):
        job_id = job_id or self.job_id
        if job_id:
            return 'job %s in %s' % (job_id, self.location())
        return 'the job of step %s in %s' % (self.step_key, self.location())

    def with_build_of(self, job):
        """Return a build-scoped copy of this target for a job read through the organization route."""
        if self.build_scoped:
            return self
        match = API_BUILD_PATH.search(job.get('build_url') or '')
        if not match:
            return self
        return JobTarget(
            self.organization, match.group('pipeline'), int(match.group('build')), self.job_id, self.step_key
        )


def validate_slug(option, value, source=None):
    where = ' in url' if source == 'url' else ''
    if not isinstance(value, str) or not SLUG_PATTERN.fullmatch(value):
        raise BuildkiteConfigError(
            option,
            '%s%s must be a Buildkite slug (lowercase letters, digits, "-" and "_", as in '
            'https://buildkite.com/<organization>/<pipeline>), got %r' % (option, where, value),
        )
    return value


def validate_job_id(option, value):
    text = value.strip().lower() if isinstance(value, str) else value
    if isinstance(text, str) and '/builds/' in text:
        raise BuildkiteConfigError(
            option, '%s must be a job UUID, got a URL %r; give a web URL in the url option instead' % (option, value)
        )
    if not isinstance(text, str) or not UUID_PATTERN.fullmatch(text):
        raise BuildkiteConfigError(
            option,
            '%s must be a job UUID such as 01234567-89ab-cdef-0123-456789abcdef (the part after "#" in '
            'the job\'s web URL), got %r' % (option, value),
        )
    return text


def validate_build_number(option, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_BUILD_NUMBER:
        raise BuildkiteConfigError(
            option, '%s must be a positive build number (the number in .../builds/<number>), got %r' % (option, value)
        )
    return value


def validate_step_key(value):
    if not isinstance(value, str) or not STEP_KEY_PATTERN.fullmatch(value):
        raise BuildkiteConfigError(
            'step_key',
            'step_key must be the key of a pipeline step (letters, digits, "_", "-", ":", "." and "/", '
            'at most 100 characters), got %r' % (value,),
        )
    return value


def parse_web_url(url):
    """Split a Buildkite web URL into organization, pipeline, build number and job id (or None)."""
    text = url.strip() if isinstance(url, str) else ''
    parts = urlsplit(text)
    match = WEB_BUILD_PATH.fullmatch(parts.path)
    if parts.scheme not in ('http', 'https') or not parts.netloc or not match:
        raise BuildkiteConfigError(
            'url',
            'url must be a Buildkite web URL such as https://buildkite.com/<organization>/<pipeline>/builds/'
            '<number>#<job id>, got %r' % (url,),
        )
    if (parts.hostname or '').lower() not in WEB_HOSTS:
        raise BuildkiteConfigError(
            'url',
            'url must be a web URL on buildkite.com, such as https://buildkite.com/<organization>/<pipeline>/builds/'
            '<number>#<job id>, got a URL on %r; copy the URL from the build page' % (parts.hostname,),
        )
    build_text = match.group('build')
    if not re.fullmatch(r'[0-9]+', build_text):
        raise BuildkiteConfigError('url', 'url must contain a positive build number after /builds/, got %r' % (url,))
    job_id = None
    if parts.fragment:
        fragment = parts.fragment[4:] if parts.fragment.startswith('job-') else parts.fragment
        if not UUID_PATTERN.fullmatch(fragment.strip().lower()):
            raise BuildkiteConfigError(
                'url',
                'the part of url after "#" must be a job UUID such as 01234567-89ab-cdef-0123-456789abcdef, '
                'got %r' % (parts.fragment,),
            )
        job_id = fragment.strip().lower()
    return {
        'organization': validate_slug('organization', match.group('organization'), 'url'),
        'pipeline': validate_slug('pipeline', match.group('pipeline'), 'url'),
        'build': validate_build_number('url', int(build_text)),
        'job': job_id,
    }


def resolve_target(options):
    """Validate the addressing options and return a JobTarget; no request is sent.

    ``options`` contains organization, pipeline, build, job, step_key and url (missing keys mean
    unset). Values from url must agree with the same values set elsewhere.
    """
    organization = options.get('organization')
    pipeline = options.get('pipeline')
    build = options.get('build')
    job_id = options.get('job')
    step_key = options.get('step_key')
    url = options.get('url')

    if job_id is not None and step_key is not None:
        raise BuildkiteConfigError(
            'job', 'job and step_key are mutually exclusive: give the job id, or the step key with pipeline and build'
        )
    if url is not None:
        from_url = parse_web_url(url)
        for name, value in (('organization', organization), ('pipeline', pipeline), ('build', build), ('job', job_id)):
            if value is None or from_url[name] is None:
                continue
            given = value.strip().lower() if name == 'job' and isinstance(value, str) else value
            if given != from_url[name]:
                raise BuildkiteConfigError(
                    name,
                    '%s is %r (from %s) but url names %s %r; remove one of them or make them agree'
                    % (name, value, SOURCES.get(name, DEFAULT_SOURCE), name, from_url[name]),
                )
        organization, pipeline, build = from_url['organization'], from_url['pipeline'], from_url['build']
        job_id = from_url['job'] or job_id
        if job_id is None and step_key is None:
            raise BuildkiteConfigError(
                'url', 'url names a build but no job: add "#<job id>" to the URL, or give step_key'
            )
        if job_id is not None and step_key is not None:
            raise BuildkiteConfigError('step_key', 'url names a job, so step_key must not be given as well')

    if organization is None or (isinstance(organization, str) and not organization.strip()):
        raise BuildkiteConfigError(
            'organization',
            'organization is required: set the organization option (the slug in '
            'https://buildkite.com/<organization>) or BUILDKITE_ORGANIZATION_SLUG, or give url',
        )
    validate_slug('organization', organization)
    if (pipeline is None) != (build is None):
        missing = 'build' if build is None else 'pipeline'
        raise BuildkiteConfigError(missing, 'pipeline and build go together: %s is missing' % missing)
    if pipeline is not None:
        validate_slug('pipeline', pipeline)
        validate_build_number('build', build)
    if job_id is not None:
        job_id = validate_job_id('job', job_id)
    elif step_key is not None:
        validate_step_key(step_key)
        if pipeline is None:
            raise BuildkiteConfigError('step_key', 'step_key needs pipeline and build (or a build url) to find the job')
    else:
        raise BuildkiteConfigError('job', 'one of job, step_key or url is required to name the job')

    return JobTarget(organization, pipeline, build, job_id, step_key)


@contextmanager
def failing_as(action, target, job_id=None):
    """Prefix client errors raised inside with what was being done, on which job and where."""
    try:
        yield
    except (BuildkiteConfigError, BuildkiteActionError):
        raise
    except BuildkiteError as exc:
        raise BuildkiteActionError(
            'Failed to %s %s: %s' % (action, target.describe(job_id), exc),
            status=exc.status,
            method=exc.method,
            path=exc.path,
            api_message=exc.api_message,
            hint=exc.hint,
        )


def get_job(client, target, job_id):
    return client.get_json(target.job_path(job_id))


def get_build(client, target, include_jobs=True):
    """Read the build; every retried attempt is included so that old job ids stay addressable."""
    params = {'include_retried_jobs': 'true'} if include_jobs else {'exclude_jobs': 'true'}
    return client.get_json(target.build_path(), params=params)


def latest_in_build(build, job):
    """Follow retried_in_job_id through the build's jobs to the latest attempt."""
    jobs_by_id = dict((item.get('id'), item) for item in build.get('jobs') or [])
    seen = set()
    while job.get('retried') and job.get('retried_in_job_id') in jobs_by_id and job['id'] not in seen:
        seen.add(job['id'])
        job = jobs_by_id[job['retried_in_job_id']]
    return job


def find_in_build(build, job_id):
    for job in build.get('jobs') or []:
        if job.get('id') == job_id:
            return job
    raise BuildkiteError(
        'HTTP 404: No job found. The build has no job with that id; check job, pipeline and build',
        status=404,
        api_message='No job found',
    )


def find_step_job(build, step_key):
    """Return the latest attempt of the one job whose step has ``step_key``."""
    matches = [job for job in build.get('jobs') or [] if job.get('step_key') == step_key]
    latest = [job for job in matches if not job.get('retried')]
    if not latest:
        raise BuildkiteError('no job in the build has step_key %r; check the key in the pipeline definition' % step_key)
    if len(latest) > 1:
        raise BuildkiteError(
            'step_key %r matches %d jobs (%s), for example the jobs of a parallel or matrix step; give job instead'
            % (step_key, len(latest), ', '.join(job.get('id', '?') for job in latest))
        )
    return latest[0]


def read_job(client, target, with_build=False):
    """Read the target's job, and return (job, build).

    With step_key, or with ``with_build`` on a build-scoped target, one read of the build (every
    attempt included) gives both. The job is then the step's latest attempt, or the job by id as
    it is. Otherwise only the job is read, and build is None.
    """
    build = None
    if target.step_key or (with_build and target.build_scoped):
        build = get_build(client, target)
    if target.step_key:
        return find_step_job(build, target.step_key), build
    if build is not None:
        return find_in_build(build, target.job_id), build
    return get_job(client, target, target.job_id), None


def read_build_of(client, target, job, build=None):
    """Return the job's build without its jobs, reading it only when ``build`` is None.

    A job read through the organization route names its build in build_url; None is returned
    when it does not.
    """
    if build is not None:
        return build
    build_target = target.with_build_of(job)
    if not build_target.build_scoped:
        return None
    return get_build(client, build_target, include_jobs=False)


def follow_retries(client, target, job):
    """Read retried_in_job_id links until the latest attempt of the job and return it."""
    for _hop in range(MAX_RETRY_CHAIN):
        if not job.get('retried') or not job.get('retried_in_job_id'):
            return job
        job = get_job(client, target, job['retried_in_job_id'])
    raise BuildkiteError('the retry chain is longer than %d attempts' % MAX_RETRY_CHAIN)


def is_finished(job):
    return job.get('state') in FINISHED_STATES


def wait_for_job(client, target, job, timeout, poll_interval, done=is_finished, follow=True, action='wait for'):
    """Poll the job until ``done(job)``; with ``follow``, move on to automatic retries.

    Raises BuildkiteWaitTimeout with the last job read when ``timeout`` seconds pass.
    """
    deadline = client.clock() + timeout
    while True:
        if follow and job.get('retried') and job.get('retried_in_job_id'):
            job = get_job(client, target, job['retried_in_job_id'])
            continue
        if done(job):
            return job
        remaining = deadline - client.clock()
        if remaining <= 0:
            raise BuildkiteWaitTimeout(
                'Timed out after %s s waiting for %s; its last state was %s. Raise wait_timeout to wait longer'
                % (format_seconds(timeout), target.describe(job.get('id')), job.get('state')),
                job,
            )
        client.sleep(min(poll_interval, remaining))
        job = get_job(client, target, job['id'])


def send_change(client, path, body, check_applied, what):
    """PUT a change that must not be applied twice, and return (job, warning).

    When the PUT's outcome is unknown (a server error, a timeout or a reset after sending),
    ``check_applied()`` re-reads the job and returns it when the change took effect, or None.
    A change that did not take effect is sent once more.
    """
    for attempt in (1, 2):
        try:
            return client.put_json(path, body), None
        except BuildkiteOutcomeUnknownError as exc:
            failure = exc

        # A server that sent Retry-After is likely to fail a read or a resend that comes sooner.
        waited = ''
        if failure.retry_after is not None:
            delay = client.retry_after_delay(failure.retry_after)
            client.pause(delay)
            waited = ' after waiting %.1f s (Retry-After)' % delay
        applied = check_applied()
        if applied is not None:
            return applied, (
                'the %s request got no usable response (%s), but the job now reads as done, so '
                'the %s was applied' % (what, failure, what)
            )
        if attempt == 1:
            client.warn(
                'the %s request got no usable response (%s) and the job does not read as done%s; '
                'sending it once more' % (what, failure, waited)
            )

    raise BuildkiteError(
        'the %s request got no usable response twice (%s) and the job does not read as '
        'done; check the job in Buildkite before running the task again' % (what, failure)
    )


def format_seconds(value):
    return ('%g' % value) if isinstance(value, float) else str(value)


# Reading a build's job list and a job's environment, for buildkite_job_info and the
# buildkite_job_env lookup.

# The list-jobs endpoint serves at most 100 jobs a page (Buildkite docs, "List jobs").
LIST_JOBS_PER_PAGE = 100
# A guard against a next link that never ends: 1,000 pages are 100,000 jobs, far beyond any build.
MAX_LIST_PAGES = 1000


def resolve_build(options):
    """Validate the options that name a build and return a JobTarget without a job. No request is sent.

    The build comes from pipeline and build, or from a build url. Organization, pipeline and build
    set elsewhere must agree with the url. A url that names a job is rejected, because it names one job.
    """
    organization = options.get('organization')
    pipeline = options.get('pipeline')
    build = options.get('build')
    url = options.get('url')

    if url is not None:
        from_url = parse_web_url(url)
        if from_url['job'] is not None:
            raise BuildkiteConfigError('url', 'url names a job, so it cannot name a build to list; remove "#<job id>"')
        for name, value in (('organization', organization), ('pipeline', pipeline), ('build', build)):
            if value is not None and value != from_url[name]:
                raise BuildkiteConfigError(
                    name,
                    '%s is %r (from %s) but url names %s %r; remove one of them or make them agree'
                    % (name, value, SOURCES.get(name, DEFAULT_SOURCE), name, from_url[name]),
                )
        organization, pipeline, build = from_url['organization'], from_url['pipeline'], from_url['build']

    if organization is None or (isinstance(organization, str) and not organization.strip()):
        raise BuildkiteConfigError(
            'organization',
            'organization is required: set the organization option (the slug in '
            'https://buildkite.com/<organization>) or BUILDKITE_ORGANIZATION_SLUG, or give url',
        )
    validate_slug('organization', organization)
    if pipeline is None and build is None:
        raise BuildkiteConfigError(
            'pipeline',
            'pipeline and build (or a build url) are required to list the jobs of a build; to read one job, '
            'give job, a job url, or step_key with pipeline and build',
        )
    if (pipeline is None) != (build is None):
        missing = 'build' if build is None else 'pipeline'
        raise BuildkiteConfigError(missing, 'pipeline and build go together: %s is missing' % missing)
    validate_slug('pipeline', pipeline)
    validate_build_number('build', build)
    return JobTarget(organization, pipeline, build)


@contextmanager
def failing_on_build(action, target):
    """Prefix client errors raised inside with what was being done on which build."""
    try:
        yield
    except (BuildkiteConfigError, BuildkiteActionError):
        raise
    except BuildkiteError as exc:
        raise BuildkiteActionError(
            'Failed to %s build %s: %s' % (action, target.location(), exc),
            status=exc.status,
            method=exc.method,
            path=exc.path,
            api_message=exc.api_message,
            hint=exc.hint,
        )


def api_path_of(client, link):
    """Return the path and query of a link the API sent, such as a next-page link, relative to api_url.

    A link outside api_url is rejected, so that the token is never sent to another host.
    """
    base = urlsplit(client.api_url)
    parts = urlsplit(link if isinstance(link, str) else '')
    base_path = base.path.rstrip('/')
    if (
        parts.scheme != base.scheme
        or parts.netloc.lower() != base.netloc.lower()
        or not parts.path.startswith(base_path + '/')
    ):
        raise BuildkiteError(
            'the API sent the page link %r, which is outside api_url %s. The token is sent to api_url only, '
            'so the list stops here' % (link, client.api_url)
        )
    path = parts.path[len(base_path) :]
    return '%s?%s' % (path, parts.query) if parts.query else path


def list_jobs(client, target, states=None, step_key=None):
    """Return every job of the build that matches the filters, following the list's cursor links.

    Retried attempts are included (``include_retried_jobs=true``, the endpoint's default), each
    with ``retried: true``. ``states`` and ``step_key`` are sent as the API's own filters.
    """
    path = target.build_path() + '/jobs'
    params = [('per_page', str(LIST_JOBS_PER_PAGE)), ('include_retried_jobs', 'true')]
    params.extend(('state[]', state) for state in states or ())
    if step_key is not None:
        params.append(('step_key', step_key))

    jobs = []
    links_followed = set()
    for _page in range(MAX_LIST_PAGES):
        page = client.get_json(path, params=params)
        items = page.get('items') if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise BuildkiteError(
                'the list of jobs has no "items" array; check that api_url points at the Buildkite REST API'
            )
        jobs.extend(items)

        links = page.get('links') if isinstance(page.get('links'), dict) else {}
        next_link = links.get('next')
        if not next_link:
            return jobs
        if next_link in links_followed:
            raise BuildkiteError('the API sent the same next-page link twice (%s), so the list stops here' % next_link)
        links_followed.add(next_link)
        # The link carries the filters and the cursor in its query.
        path, params = api_path_of(client, next_link), None
    raise BuildkiteError('the build has more than %d pages of jobs, so the list stops here' % MAX_LIST_PAGES)


def read_job_env(client, target, job_id):
    """Return the job's environment as the API sends it: a dict of variable names to string values."""
    data = client.get_json(target.job_path(job_id, '/env'))
    env = data.get('env') if isinstance(data, dict) else None
    if not isinstance(env, dict):
        raise BuildkiteError('the response has no "env" object; check that api_url points at the Buildkite REST API')
    return env
