#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: buildkite_job_retry
short_description: Retry a Buildkite job
version_added: 1.0.0
description:
  - Ensures that a Buildkite job has been retried, with the REST API's C(PUT .../retry), and returns the new attempt.
  - The desired state is "this job has been retried". A job that was already retried is not retried again; the
    module follows C(retried_in_job_id) to the latest attempt and returns it with RV(ignore:changed=false).
  - With O(step_key), the module acts on the latest attempt of the step's job, so running it again retries again
    only when that attempt failed.
  - Optionally waits for the new attempt to finish and fails when it does not pass.
author:
  - opskite engineers (@opskite)
extends_documentation_fragment:
  - opskite.buildkite.connection
  - opskite.buildkite.job_target
  - opskite.buildkite.attributes
options:
  wait:
    description:
      - Wait until the new attempt has finished, following automatic retries, and fail unless it passed. The
        failure message ends with the last 20 lines of the attempt's log, as text, when the token may read logs
        (C(read_build_logs)).
      - Has no effect in check mode.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait=true) before failing.
    type: float
    default: 3600
  poll_interval:
    description:
      - Seconds between two reads of the job with O(wait=true).
    type: float
    default: 5
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the job, and for a job that would be retried also its build; it sends no C(PUT).
      - Check mode does not read the token's scopes, so a token without C(write_builds) can run it as a dry run;
        the real run then fails with HTTP 403.
      - The REST job object does not show a step's C(retry.manual.permit_on_passed), so for a passed job check mode
        reports RV(ignore:changed=true) with a warning, while the real run may be refused.
  diff_mode:
    support: none
notes:
  - The token needs the C(write_builds) scope to retry and C(read_builds) to read jobs and builds.
  - The API accepts a retry of a failed, timed out or canceled job, and of a passed job when its step sets
    C(retry.manual.permit_on_passed). It refuses running jobs, jobs of canceled builds, and jobs already retried.
    The module does not decide this itself; it reports the API's message with the job's state and what to do.
  - A retry request whose response is lost (server error, timeout, connection reset) is not sent again blindly. The
    module reads the job; if it reads as retried, the task succeeds with a warning, otherwise the request is sent once
    more.
  - A retry through the API is a manual retry, the same as the Retry button in Buildkite.
seealso:
  - name: Buildkite REST API, jobs
    description: The retry endpoint and its errors.
    link: https://buildkite.com/docs/apis/rest-api/jobs#retry-a-job
'''

EXAMPLES = r'''
- name: Retry a failed job by its id
  opskite.buildkite.buildkite_job_retry:
    organization: acme
    job: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
  register: retried

- name: Show the new attempt
  ansible.builtin.debug:
    msg: "Retried as {{ retried.job.id }}: {{ retried.job.web_url }}"

- name: Retry the failed tests step of build 1234 and wait for it to pass
  opskite.buildkite.buildkite_job_retry:
    organization: acme
    pipeline: web
    build: 1234
    step_key: tests
    wait: true
    wait_timeout: 1800
    poll_interval: 10
  register: tests_retry

- name: Retry a job given by its web URL, with the token from a vault variable
  opskite.buildkite.buildkite_job_retry:
    url: https://buildkite.com/acme/web/builds/1234#0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    api_token: "{{ vault_buildkite_token }}"

- name: Set the connection once for every module of the collection
  module_defaults:
    group/opskite.buildkite.buildkite:
      organization: acme
      api_token: "{{ vault_buildkite_token }}"
  block:
    - name: Retry the flaky integration tests
      opskite.buildkite.buildkite_job_retry:
        pipeline: web
        build: 1234
        step_key: integration
'''

RETURN = r'''
job:
  description:
    - The job exactly as the API returns it, with Buildkite's own keys.
    - After a retry, the new attempt; its C(retry_source.job_id) names the job that was retried.
    - For a job already retried, its latest attempt. In check mode, the job as it stands.
    - With O(wait=true), the attempt as it finished.
  returned: success, and on failure once the job is known
  type: dict
  contains:
    id:
      description: UUID of the job.
      type: str
      sample: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5c
    type:
      description: Job type; only C(script) (command) jobs can be retried.
      type: str
      sample: script
    name:
      description: Name of the command step.
      type: str
      sample: ":rspec: Tests"
    step_key:
      description: Key of the job's step, if the step has one.
      type: str
      sample: tests
    state:
      description: State of the job, such as C(scheduled), C(running), C(passed) or C(failed).
      type: str
      sample: scheduled
    web_url:
      description: Address of the job in Buildkite's web interface.
      type: str
      sample: https://buildkite.com/acme/web/builds/1234#0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5c
    retried:
      description: Whether this attempt has been retried in its turn.
      type: bool
      sample: false
    retried_in_job_id:
      description: UUID of the attempt that replaced this one, when it was retried.
      type: str
      sample: null
    retries_count:
      description: How many times the job has been retried before this attempt.
      type: int
      sample: 1
    retry_source:
      description: The job this attempt retries, and the kind of retry.
      type: dict
      sample: {"job_id": "0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b", "retry_type": "manual"}
    exit_status:
      description: Exit status of the command once the job has finished.
      type: int
      sample: 0
  sample:
    id: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5c
    type: script
    name: ":rspec: Tests"
    step_key: tests
    state: scheduled
    web_url: https://buildkite.com/acme/web/builds/1234#0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5c
    retried: false
    retries_count: 1
    retry_source:
      job_id: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
      retry_type: manual
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.opskite.buildkite.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    BuildkiteConfigError,
    BuildkiteError,
    BuildkiteHTTPError,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import (
    CANCELED_BUILD_STATES,
    RETRYABLE_STATES,
    BuildkiteActionError,
    BuildkiteWaitTimeout,
    failing_as,
    follow_retries,
    get_job,
    latest_in_build,
    read_build_of,
    read_job,
    resolve_target,
    send_change,
    wait_for_job,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._logs import tail_text
from ansible_collections.opskite.buildkite.plugins.module_utils._options import (
    JOB_TARGET_MUTUALLY_EXCLUSIVE,
    JOB_TARGET_REQUIRED_ONE_OF,
    WAIT_ARGSPEC,
    client_from_options,
    connection_argspec,
    validate_wait,
)

# Errors that tell nothing about the job's state, so re-reading the job would not explain them.
NOT_A_REFUSAL = frozenset((401, 403, 404, 429))
# Lines of the failed attempt's log that end the failure message with wait=true.
FAILED_LOG_LINES = 20


def refusal_hint(job, api_message=''):
    """Return what the user can do about a retry the API refuses, from the job's state."""
    state = job.get('state')
    if 'canceled build' in api_message.lower():
        return 'The build was canceled; start a new build instead (Rebuild in Buildkite)'
    if job.get('type') not in (None, 'script'):
        return 'Only command jobs can be retried; this job\'s type is %s' % job.get('type')
    if state == 'passed':
        return 'The job passed; a passed job can be retried only when its step sets retry.manual.permit_on_passed: true'
    if state in RETRYABLE_STATES:
        return 'The job\'s state is %s' % state
    return 'The job\'s state is %s; retry it once it has finished' % state


def predict_retry(client, target, job, build, module):
    """Return the job check mode reports, or raise where the real run would be refused."""
    state = job.get('state')
    refused = None
    if job.get('type') not in (None, 'script'):
        refused = refusal_hint(job)
    elif state in RETRYABLE_STATES or state == 'passed':
        build = read_build_of(client, target, job, build)
        if build is not None and build.get('state') in CANCELED_BUILD_STATES:
            refused = refusal_hint(job, 'canceled build')
        elif state == 'passed':
            module.warn(
                'opskite.buildkite: check mode cannot tell whether the step of passed job %s permits a '
                'retry (retry.manual.permit_on_passed); the real run may be refused' % job.get('id')
            )
    else:
        refused = refusal_hint(job)
    if refused:
        raise BuildkiteError('the API would refuse the retry. %s' % refused)
    return job


def retry_job(client, target, job_id):
    """Retry the job and return (changed, job, warning); a job already retried is not retried again."""

    def check_applied():
        job = get_job(client, target, job_id)
        if job.get('retried') and job.get('retried_in_job_id'):
            return get_job(client, target, job['retried_in_job_id'])
        return None

    try:
        new_job, warning = send_change(client, target.job_path(job_id, '/retry'), None, check_applied, 'retry')
    except BuildkiteHTTPError as exc:
        # Only a 4xx means the API rejected the change. A redirect or a 5xx tells nothing about the job.
        if exc.status in NOT_A_REFUSAL or not 400 <= exc.status < 500:
            raise
        # The API refused: read the job to tell "already retried" (the goal is met) from a real refusal.
        job = get_job(client, target, job_id)
        if job.get('retried'):
            return False, follow_retries(client, target, job), None
        raise BuildkiteError(
            'HTTP %s: %s. %s' % (exc.status, exc.api_message.rstrip('.'), refusal_hint(job, exc.api_message)),
            status=exc.status,
            method=exc.method,
            path=exc.path,
            api_message=exc.api_message,
        )
    return True, new_job, warning


def attempt_failed_message(target, job, changed):
    if changed:
        what = 'The retry of %s was sent, but its new attempt %s' % (target.describe(), job.get('id'))
    else:
        what = 'Nothing was retried, because %s had been retried already; its latest attempt %s' % (
            target.describe(),
            job.get('id'),
        )
    return '%s finished in state %s. Its log is at %s; to retry the step again, use step_key' % (
        what,
        job.get('state'),
        job.get('web_url'),
    )


def warn_if_latest_failed(module, target, latest):
    """Warn that a job retried earlier ended in a failed attempt, which this task leaves alone."""
    if latest.get('state') in RETRYABLE_STATES:
        module.warn(
            'opskite.buildkite: %s was retried already, so it is not retried again, but its latest attempt %s is %s; '
            'use step_key to retry the step\'s latest attempt'
            % (target.describe(), latest.get('id'), latest.get('state'))
        )


def run(module, client, target):
    check_mode = module.check_mode

    job = build = None
    with failing_as('read', target):
        if target.step_key or check_mode:
            job, build = read_job(client, target, with_build=check_mode)
        if job is not None and target.job_id:
            job = latest_in_build(build, job) if build is not None else follow_retries(client, target, job)

    if target.step_key and job.get('type') not in (None, 'script'):
        with failing_as('retry', target, job['id']):
            raise BuildkiteError(
                'Only command jobs can be retried; the job of step %s is of type %s'
                % (target.step_key, job.get('type'))
            )
    if target.step_key and job.get('state') not in RETRYABLE_STATES:
        return False, job
    if target.job_id and job is not None and job.get('id') != target.job_id:
        warn_if_latest_failed(module, target, job)
        return False, job

    job_id = job['id'] if job is not None else target.job_id
    if check_mode:
        with failing_as('retry', target, job_id):
            return True, predict_retry(client, target, job, build, module)

    with failing_as('retry', target, job_id):
        changed, job, warning = retry_job(client, target, job_id)
    if warning:
        client.warn(warning)
    if not changed:
        warn_if_latest_failed(module, target, job)
    return changed, job


def main():
    argument_spec = connection_argspec(
        wait=dict(type='bool', default=False),
        **WAIT_ARGSPEC,
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=JOB_TARGET_MUTUALLY_EXCLUSIVE,
        required_one_of=JOB_TARGET_REQUIRED_ONE_OF,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)

    params = module.params
    try:
        target = resolve_target(params)
        validate_wait(params)
        client = client_from_options(params, warn=module.warn)
    except BuildkiteConfigError as exc:
        module.fail_json(msg=str(exc))
        return

    changed = False
    job = None
    try:
        changed, job = run(module, client, target)
        if params['wait'] and not module.check_mode:
            with failing_as('wait for', target, job['id']):
                job = wait_for_job(client, target, job, params['wait_timeout'], params['poll_interval'])
            if job.get('state') != 'passed':
                message = attempt_failed_message(target, job, changed)
                tail = tail_text(client, target, job['id'], FAILED_LOG_LINES)
                if tail:
                    message = '%s. The last lines of its log:\n%s' % (message, tail.rstrip('\n'))
                module.fail_json(msg=message, changed=changed, job=job)
    except BuildkiteWaitTimeout as exc:
        module.fail_json(msg=str(exc), changed=changed, job=exc.job)
    except (BuildkiteActionError, BuildkiteError) as exc:
        result = dict(changed=changed)
        if job is not None:
            result['job'] = job
        module.fail_json(msg=str(exc), **result)
    finally:
        client.close()

    module.exit_json(changed=changed, job=job)


if __name__ == '__main__':
    main()
