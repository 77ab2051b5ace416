#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: buildkite_job_info
short_description: Read a Buildkite job, its environment, or the jobs of a build
version_added: 1.0.0
description:
  - Reads one Buildkite job and returns it as RV(job), optionally with its environment variables (RV(env)) and
    after waiting until it reaches one of the states in O(wait_for).
  - Or lists the jobs of a build, following the API's pages, and returns them as RV(jobs), filtered by O(state),
    O(type) and O(step_key).
  - B(Which of the two.) The module reads one job when O(job) or a job O(url) (with C(#<job>)) names it, or when
    O(step_key) is given without O(state) or O(type). Otherwise it lists the jobs of the build that O(pipeline)
    and O(build), or a build O(url), name; O(state) and O(type) always select the list, and O(step_key) then
    filters it.
  - The module only reads; it never changes a job, and RV(ignore:changed) is always C(false).
author:
  - opskite engineers (@opskite)
extends_documentation_fragment:
  - opskite.buildkite.connection
  - opskite.buildkite.job_target
  - opskite.buildkite.attributes
options:
  step_key:
    description:
      - Key of the pipeline step (its C(key) attribute). Needs O(pipeline) and O(build), or a build O(url).
      - On its own, it names one job, the latest attempt of that step's job. Exactly one job must match; a parallel
        or matrix step matches several and fails, listing their ids.
      - With O(state) or O(type), it filters the list of the build's jobs instead, which then contains every
        attempt and every parallel job of the step.
    type: str
  url:
    description:
      - Web URL of the job, C(https://buildkite.com/<organization>/<pipeline>/builds/<number>#<job>), to read that
        job.
      - Or the web URL of a build, C(https://buildkite.com/<organization>/<pipeline>/builds/<number>), to list its
        jobs, or together with O(step_key) alone to read the step's job.
      - Where O(organization), O(pipeline), O(build) or O(job) are also set, by the task, C(module_defaults) or
        the environment, they must agree with the URL.
      - The URL is only parsed; requests go to O(api_url).
    type: str
  state:
    description:
      - List only jobs in one of these states. Selects the list of the build's jobs, so it cannot be combined with
        O(job) or a job O(url); to wait until one job reaches a state, use O(wait_for).
      - Sent to the API as its C(state[]) filter. An empty list filters nothing.
    type: list
    elements: str
    choices: &job_states
      - pending
      - waiting
      - waiting_failed
      - blocked
      - blocked_failed
      - unblocked
      - unblocked_failed
      - scheduled
      - assigned
      - accepted
      - running
      - passed
      - failed
      - timed_out
      - timing_out
      - canceled
      - canceling
      - skipped
      - broken
      - expired
      - limited
  type:
    description:
      - List only jobs of these types. Selects the list of the build's jobs, so it cannot be combined with O(job)
        or a job O(url).
      - C(script) is a command step, C(waiter) a wait step, C(manual) a block or input step and C(trigger) a
        trigger step.
      - The API has no such filter, so the module filters the pages it reads. An empty list filters nothing.
    type: list
    elements: str
    choices:
      - script
      - waiter
      - manual
      - trigger
  include_env:
    description:
      - Also read the job's environment variables (C(GET .../env)) and return them as RV(env), with secret values
        redacted by O(redact).
      - Needs one job, and a token with the C(read_job_env) scope.
    type: bool
    default: false
  redact:
    description:
      - With O(include_env=true), the values of variables whose names match one of these glob patterns are
        returned as C([REDACTED]). An empty value stays empty.
      - C(*) matches any characters, C(?) one character, C([...]) one character of a set; matching ignores case,
        so C(*_TOKEN) also matches C(deploy_token).
      - The default is the Buildkite agent's default list of redacted variables. Set C([]) to return every value
        as it is.
      - A list given here replaces the default list. To redact more, repeat the default patterns and add yours.
    type: list
    elements: str
    default:
      - '*_PASSWORD'
      - '*_SECRET'
      - '*_TOKEN'
      - '*_PRIVATE_KEY'
      - '*_ACCESS_KEY'
      - '*_SECRET_KEY'
      - '*_CONNECTION_STRING'
  variables:
    description:
      - With O(include_env=true), return only these variables, by exact name. By default every variable is returned.
      - What happens to a name that the job's environment does not contain depends on O(on_missing).
      - The alias O(variable_names) is the name of this option in the lookup
        P(opskite.buildkite.buildkite_job_env#lookup).
    type: list
    elements: str
    aliases:
      - variable_names
  on_missing:
    description:
      - What to do when a name in O(variables) is not in the job's environment.
      - V(error) fails the task; V(warn) leaves the name out of RV(env) with a warning; V(skip) leaves it out
        silently.
    type: str
    choices:
      - error
      - warn
      - skip
    default: error
  wait_for:
    description:
      - Wait until the job is in one of these states, for example C([blocked]) for a block step that the build has
        reached, or C([passed, failed]) for a command job. Needs one job.
      - A block job reads C(blocked) before the build reaches it too, so it counts as C(blocked) here only once it
        can be unblocked (C(unblockable=true)).
      - The task fails at once when the job is in a finished state that is not in the list, such as C(passed) for
        C(wait_for=[failed]), because a finished job does not change by itself.
      - Waits for this job only. A retry creates a new job, which is not followed; address the job by O(step_key)
        to read the latest attempt when the task starts.
      - Waits in check mode too, because waiting changes nothing.
    type: list
    elements: str
    choices: *job_states
  wait_timeout:
    description:
      - Seconds to wait with O(wait_for) before failing with the job's last state.
    type: float
    default: 3600
  poll_interval:
    description:
      - Seconds between two reads of the job with O(wait_for).
    type: float
    default: 5
attributes:
  check_mode:
    support: full
    details:
      - The module only reads, so check mode runs exactly as a real run does, waiting included.
  diff_mode:
    support: none
notes:
  - The token needs the C(read_builds) scope, and C(read_job_env) for O(include_env=true).
  - Reading one job costs one request, or one read of the build with O(step_key). Listing costs one request per
    100 jobs. O(include_env=true) adds one request, and O(wait_for) one per O(poll_interval).
  - The list contains every attempt of a retried job (the API's C(include_retried_jobs=true)); earlier attempts
    have C(retried=true). Use C(rejectattr('retried')) to keep only the latest attempts.
  - O(redact) only hides values by name. A secret in a variable with another name, and every variable when
    O(redact=[]), is returned as it is and ends up in the task result; use C(no_log) on tasks that register or
    show it.
seealso:
  - plugin: opskite.buildkite.buildkite_job_env
    plugin_type: lookup
  - module: opskite.buildkite.buildkite_job_unblock
  - module: opskite.buildkite.buildkite_job_retry
  - name: Buildkite REST API, jobs
    description: The get job, list jobs and environment endpoints.
    link: https://buildkite.com/docs/apis/rest-api/jobs
'''

EXAMPLES = r'''
- name: Read a job by its id
  opskite.buildkite.buildkite_job_info:
    organization: acme
    job: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
  register: tests_job

- name: Wait until build 1234 reaches its deploy gate
  opskite.buildkite.buildkite_job_info:
    organization: acme
    pipeline: deploy
    build: 1234
    step_key: deploy-gate
    wait_for:
      - blocked
    wait_timeout: 1800
    poll_interval: 10
  register: gate

- name: List the failed command jobs of build 1234
  opskite.buildkite.buildkite_job_info:
    organization: acme
    pipeline: web
    build: 1234
    state:
      - failed
      - timed_out
    type:
      - script
  register: failed_jobs

- name: Show the web addresses of their latest attempts
  ansible.builtin.debug:
    msg: "{{ failed_jobs.jobs | rejectattr('retried') | map(attribute='web_url') | list }}"

- name: List every job of a build given by its web URL
  opskite.buildkite.buildkite_job_info:
    url: https://buildkite.com/acme/web/builds/1234
  register: build_jobs

- name: Read the commit and branch a job ran with
  opskite.buildkite.buildkite_job_info:
    url: https://buildkite.com/acme/web/builds/1234#0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    include_env: true
    variables:
      - BUILDKITE_COMMIT
      - BUILDKITE_BRANCH
  register: job_env

- name: Use them
  ansible.builtin.debug:
    msg: "Built {{ job_env.env.BUILDKITE_COMMIT }} on {{ job_env.env.BUILDKITE_BRANCH }}"
'''

RETURN = r'''
job:
  description:
    - The job exactly as the API returns it, with Buildkite's own keys.
    - With O(wait_for), the job as last read.
  returned: when the options name one job; on failure once the job has been read
  type: dict
  contains:
    id:
      description: UUID of the job.
      type: str
      sample: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    type:
      description: Job type, C(script), C(waiter), C(manual) or C(trigger).
      type: str
      sample: manual
    name:
      description: Name of a command step; block and trigger steps have RV(job.label) instead.
      type: str
      sample: ":rspec: Tests"
    label:
      description: Label of a block or trigger step.
      type: str
      sample: ":rocket: Deploy?"
    step_key:
      description: Key of the job's step, if the step has one.
      type: str
      sample: deploy-gate
    state:
      description: State of the job, such as C(scheduled), C(running), C(passed), C(failed) or C(blocked).
      type: str
      sample: blocked
    web_url:
      description: Address of the job in Buildkite's web interface.
      type: str
      sample: https://buildkite.com/acme/deploy/builds/1234#0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    retried:
      description: Whether this attempt has been retried.
      type: bool
      sample: false
    unblockable:
      description: For a block step, whether it can be unblocked now.
      type: bool
      sample: true
  sample:
    id: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    type: manual
    label: ":rocket: Deploy?"
    step_key: deploy-gate
    state: blocked
    unblockable: true
    web_url: https://buildkite.com/acme/deploy/builds/1234#0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
jobs:
  description:
    - The jobs of the build that match O(state), O(type) and O(step_key), in the API's order, each exactly as the
      API returns it, as for RV(job). Retried attempts are included, with C(retried=true).
  returned: when the options select the list of a build's jobs
  type: list
  elements: dict
  sample:
    - id: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5c
      type: script
      name: ":rspec: Tests"
      step_key: tests
      state: failed
      retried: true
      retried_in_job_id: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5d
    - id: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5d
      type: script
      name: ":rspec: Tests"
      step_key: tests
      state: failed
      retried: false
env:
  description:
    - The job's environment variables, names to values, exactly as the API sends them (newlines, quotes and
      C(=) included), except that values of names matching O(redact) are C([REDACTED]).
    - Only the names in O(variables) when it is given.
  returned: when O(include_env=true)
  type: dict
  sample:
    BUILDKITE_BRANCH: main
    BUILDKITE_COMMIT: 3f1c2d4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d
    DEPLOY_TOKEN: "[REDACTED]"
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.opskite.buildkite.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    BuildkiteConfigError,
    BuildkiteError,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._env import (
    DEFAULT_REDACT,
    ON_MISSING_CHOICES,
    describe_missing_variables,
    env_settings,
    missing_variables_error,
    shape_env,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import (
    FINISHED_STATES,
    BuildkiteActionError,
    BuildkiteWaitTimeout,
    failing_as,
    failing_on_build,
    format_seconds,
    list_jobs,
    parse_web_url,
    read_job,
    read_job_env,
    resolve_build,
    resolve_target,
    wait_for_job,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._options import (
    JOB_TARGET_MUTUALLY_EXCLUSIVE,
    WAIT_ARGSPEC,
    client_from_options,
    connection_argspec,
    validate_wait,
)

# REST job states and types (Buildkite docs, "Builds API", job data model).
JOB_STATES = (
    'pending',
    'waiting',
    'waiting_failed',
    'blocked',
    'blocked_failed',
    'unblocked',
    'unblocked_failed',
    'scheduled',
    'assigned',
    'accepted',
    'running',
    'passed',
    'failed',
    'timed_out',
    'timing_out',
    'canceled',
    'canceling',
    'skipped',
    'broken',
    'expired',
    'limited',
)
JOB_TYPES = ('script', 'waiter', 'manual', 'trigger')


def names_one_job(params):
    """Tell whether the options read one job (True) or list the build's jobs (False). No request is sent.

    A job id, in job or after "#" in url, names one job. So does step_key, unless state or type is
    given, because they make step_key a filter of the list.
    """
    job_in_url = params['url'] is not None and parse_web_url(params['url'])['job'] is not None
    if params['job'] is not None or job_in_url:
        if params['state']:
            raise BuildkiteConfigError(
                'state',
                'state filters the list of a build\'s jobs, so it cannot be combined with job or a job url; '
                'to wait until the job reaches a state, use wait_for',
            )
        if params['type']:
            raise BuildkiteConfigError(
                'type',
                'type filters the list of a build\'s jobs, so it cannot be combined with job or a job url; '
                'the job\'s type is in the returned job',
            )
        return True
    if params['state'] or params['type']:
        return False
    return params['step_key'] is not None


def check_list_options(params):
    """Reject the options that need one job when the options select the list."""
    for option in ('wait_for', 'include_env'):
        if params[option]:
            raise BuildkiteConfigError(
                option,
                '%s needs one job, but the options select the list of a build\'s jobs; name the job with job, '
                'a job url, or step_key without state or type' % option,
            )


def wait_for_states(client, target, job, states, timeout, poll_interval):
    """Poll the job until its state is one of ``states``. Raise when it finishes in another state or time runs out."""

    def reached(current):
        # A block job reads blocked before the build reaches it too; only an unblockable one has been reached.
        if current.get('state') == 'blocked' and current.get('type') == 'manual' and not current.get('unblockable'):
            return False
        return current.get('state') in states

    def settled(current):
        return reached(current) or current.get('state') in FINISHED_STATES

    with failing_as('wait for', target, job['id']):
        try:
            job = wait_for_job(client, target, job, timeout, poll_interval, done=settled, follow=False)
        except BuildkiteWaitTimeout as exc:
            raise BuildkiteWaitTimeout(
                'Timed out after %s s waiting for %s to reach %s (wait_for); its last state was %s. Raise '
                'wait_timeout to wait longer'
                % (format_seconds(timeout), target.describe(job['id']), ' or '.join(states), exc.job.get('state')),
                exc.job,
            )
        if not reached(job):
            raise BuildkiteError(
                'the job is %s, a finished state, so it will not reach %s (wait_for)'
                % (job.get('state'), ' or '.join(states))
            )
    return job


def read_one_job(module, client, target, settings, result):
    """Read the job, wait for it and read its environment as the options ask, filling ``result`` as it goes."""
    params = module.params

    with failing_as('read', target):
        result['job'], _build = read_job(client, target)
    job_id = result['job']['id']

    if params['wait_for']:
        result['job'] = wait_for_states(
            client, target, result['job'], params['wait_for'], params['wait_timeout'], params['poll_interval']
        )

    if params['include_env']:
        with failing_as('read the environment of', target, job_id):
            env, missing = shape_env(read_job_env(client, target, job_id), settings)
            if missing and settings.on_missing == 'error':
                raise missing_variables_error(missing)
        if missing and settings.on_missing == 'warn':
            module.warn(
                'opskite.buildkite: %s (on_missing=warn)' % describe_missing_variables(missing, target.describe(job_id))
            )
        result['env'] = env


def read_job_list(module, client, target, result):
    """List the build's jobs that match the filters into ``result``."""
    params = module.params

    with failing_on_build('list the jobs of', target):
        jobs = list_jobs(client, target, states=params['state'] or None, step_key=params['step_key'])
    if params['type']:
        jobs = [job for job in jobs if job.get('type') in params['type']]
    result['jobs'] = jobs


def main():
    argument_spec = connection_argspec(
        state=dict(type='list', elements='str', choices=list(JOB_STATES)),
        type=dict(type='list', elements='str', choices=list(JOB_TYPES)),
        include_env=dict(type='bool', default=False),
        redact=dict(type='list', elements='str', default=list(DEFAULT_REDACT)),
        variables=dict(type='list', elements='str', aliases=['variable_names']),
        on_missing=dict(type='str', choices=list(ON_MISSING_CHOICES), default='error'),
        wait_for=dict(type='list', elements='str', choices=list(JOB_STATES)),
        **WAIT_ARGSPEC,
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=JOB_TARGET_MUTUALLY_EXCLUSIVE,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)

    params = module.params
    try:
        one_job = names_one_job(params)
        if one_job:
            target = resolve_target(params)
        else:
            check_list_options(params)
            target = resolve_build(params)
        settings = env_settings(params['redact'], params['variables'], params['on_missing'])
        if params['variables'] is not None and not params['include_env']:
            raise BuildkiteConfigError(
                'variables', 'variables selects variables of the job\'s environment, so it needs include_env=true'
            )
        validate_wait(params)
        client = client_from_options(params, warn=module.warn)
    except BuildkiteConfigError as exc:
        module.fail_json(msg=str(exc))
        return

    result = {}
    try:
        if one_job:
            read_one_job(module, client, target, settings, result)
        else:
            read_job_list(module, client, target, result)
    except BuildkiteWaitTimeout as exc:
        module.fail_json(msg=str(exc), changed=False, job=exc.job)
    except (BuildkiteActionError, BuildkiteError) as exc:
        module.fail_json(msg=str(exc), changed=False, **result)
    finally:
        client.close()

    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
