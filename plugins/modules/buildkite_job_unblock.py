#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: buildkite_job_unblock
short_description: Unblock a Buildkite block step, filling in its form fields
version_added: 1.0.0
description:
  - Ensures that a Buildkite block step has been unblocked, with the REST API's C(PUT .../unblock), submitting the
    step's form fields. Use it to gate a deployment on a block step.
  - The desired state is "this block step has been unblocked". A step that is already unblocked is left alone and
    reported with RV(ignore:changed=false); the module warns when the build's meta-data holds other values for the
    given O(fields) than were asked for.
  - With O(wait=true), the module first waits until the build reaches the block step.
author:
  - opskite engineers (@opskite)
extends_documentation_fragment:
  - opskite.buildkite.connection
  - opskite.buildkite.job_target
  - opskite.buildkite.attributes
options:
  fields:
    description:
      - Values for the block step's form fields, by field C(key).
      - Strings are sent as they are; integers and floats are sent as their decimal text.
      - A list, for a select field with C(multiple=true), is sent as its items joined with newlines, the form in
        which Buildkite stores a multi-select value.
      - Booleans, nulls and nested dictionaries are rejected before any request; quote a value such as C("true").
      - A select field takes the option's C(value), not its C(label).
    type: dict
  unblocker:
    description:
      - UUID of the Buildkite user to record as the one who unblocked the step. Sent only when given; by default
        the API records the token's user.
      - The user must belong to the organization.
    type: str
  wait:
    description:
      - Wait until the build reaches the block step, then unblock it. Without it, a block step that cannot be
        unblocked yet fails the task.
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
      - Check mode reads the block job, and for a job that would be unblocked also its build; it sends no C(PUT).
      - Check mode does not read the token's scopes, so a token without C(write_builds) can run it as a dry run;
        the real run then fails with HTTP 403.
      - Check mode cannot tell whether O(unblocker) belongs to the organization, or whether the token's user is in
        the step's C(allowed_teams); it warns about the first, and the real run fails where the API refuses either.
  diff_mode:
    support: full
    details:
      - The diff shows the block step's state and the fields that are submitted.
notes:
  - The token needs the C(write_builds) scope to unblock and C(read_builds) to read jobs and builds.
  - The token's user (or O(unblocker)) needs write access to the pipeline. When the block step sets
    C(allowed_teams), that user must belong to one of those teams, even with pipeline write access; otherwise the
    API answers C(403 Forbidden).
  - An unblock request whose response is lost (server error, timeout, connection reset) is not sent again blindly.
    The module reads the job; if it reads as unblocked, the task succeeds with a warning, otherwise the request is
    sent once more.
  - Block steps and input steps both appear as jobs of type C(manual).
seealso:
  - module: opskite.buildkite.buildkite_job_retry
  - name: Buildkite REST API, unblock a job
    description: The unblock endpoint and its errors.
    link: https://buildkite.com/docs/apis/rest-api/jobs#unblock-a-job
  - name: Buildkite block steps
    description: Block step fields, permissions and meta-data.
    link: https://buildkite.com/docs/pipelines/configure/step-types/block-step
'''

EXAMPLES = r'''
- name: Release the deploy gate of build 1234 with a release name and regions
  opskite.buildkite.buildkite_job_unblock:
    organization: acme
    pipeline: deploy
    build: 1234
    step_key: deploy-gate
    fields:
      release-name: "2026.12 Flying Dolphin"
      regions:
        - us-east-1
        - eu-west-1
    wait: true
    wait_timeout: 1800
  register: gate

- name: Show who released the gate and when
  ansible.builtin.debug:
    msg: "Unblocked by {{ gate.job.unblocked_by.name }} at {{ gate.job.unblocked_at }}"

- name: Unblock a block step by its web URL, on behalf of a release manager
  opskite.buildkite.buildkite_job_unblock:
    url: https://buildkite.com/acme/deploy/builds/1234#0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    unblocker: 0190a1b2-0000-4000-8000-000000000042
    api_token: "{{ vault_buildkite_token }}"

- name: Preview the unblock with check mode and a diff
  opskite.buildkite.buildkite_job_unblock:
    organization: acme
    pipeline: deploy
    build: 1234
    step_key: deploy-gate
    fields:
      release-name: "2026.12 Flying Dolphin"
  check_mode: true
  diff: true
  register: gate_preview
'''

RETURN = r'''
job:
  description:
    - The block job exactly as the API returns it, with Buildkite's own keys.
    - After an unblock, or for a step that was already unblocked, it carries C(unblocked_by) and C(unblocked_at).
    - In check mode, the job as it stands.
  returned: success, and on failure once the job is known
  type: dict
  contains:
    id:
      description: UUID of the block job.
      type: str
      sample: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    type:
      description: Job type; block and input steps are C(manual).
      type: str
      sample: manual
    label:
      description: Label of the block step.
      type: str
      sample: ":rocket: Deploy?"
    step_key:
      description: Key of the block step, if it has one.
      type: str
      sample: deploy-gate
    state:
      description: C(blocked) while waiting, C(unblocked) once released.
      type: str
      sample: unblocked
    unblockable:
      description: Whether the step can be unblocked now.
      type: bool
      sample: false
    unblocked_by:
      description: The user who unblocked the step.
      type: dict
      sample: {"id": "0190a1b2-0000-4000-8000-000000000042", "name": "Dana Release", "email": "dana@example.com"}
    unblocked_at:
      description: When the step was unblocked, ISO 8601.
      type: str
      sample: "2026-12-04T10:15:30.123Z"
    unblock_url:
      description: API address of the unblock endpoint for this job.
      type: str
      sample: https://api.buildkite.com/v2/organizations/acme/pipelines/deploy/builds/1234/jobs/0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b/unblock
  sample:
    id: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    type: manual
    label: ":rocket: Deploy?"
    step_key: deploy-gate
    state: unblocked
    unblockable: false
    unblocked_at: "2026-12-04T10:15:30.123Z"
    unblocked_by:
      id: 0190a1b2-0000-4000-8000-000000000042
      name: Dana Release
      email: dana@example.com
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
    UUID_PATTERN,
    BuildkiteActionError,
    BuildkiteWaitTimeout,
    failing_as,
    get_job,
    read_build_of,
    read_job,
    resolve_target,
    send_change,
    wait_for_job,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._options import (
    JOB_TARGET_MUTUALLY_EXCLUSIVE,
    JOB_TARGET_REQUIRED_ONE_OF,
    WAIT_ARGSPEC,
    client_from_options,
    connection_argspec,
    validate_wait,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._unblock import convert_fields, meta_data_differences

# Errors that tell nothing about the job's state, so re-reading the job would not explain them.
NOT_A_REFUSAL = frozenset((401, 404, 429))
# States of a block job whose build has not reached it yet.
WAITING_STATES = frozenset(('blocked', 'waiting', 'pending'))


def is_unblocked(job):
    return job.get('state') == 'unblocked'


def is_unreached(job):
    """Tell whether the build has yet to reach the block job, so that waiting can help."""
    return job.get('type') == 'manual' and job.get('state') in WAITING_STATES and not job.get('unblockable')


def is_ready(job):
    """Tell whether waiting for a block job is over: it can be unblocked now, or it no longer needs it."""
    return not is_unreached(job)


def blocker(job, build=None, api_message=''):
    """Return why the block job cannot be unblocked now, or None when nothing prevents it."""
    if job.get('type') != 'manual':
        return 'The job is not a block step; its type is %s' % job.get('type')
    if 'canceled build' in api_message.lower() or (build is not None and build.get('state') in CANCELED_BUILD_STATES):
        return 'The build was canceled, so its block steps can no longer be unblocked'
    if is_unreached(job):
        return (
            'The build has not reached the block step yet, because steps before it are still running; '
            'set wait=true to wait for it'
        )
    if job.get('state') != 'blocked':
        return "The block step's state is %s" % job.get('state')
    return None


def predict_unblock(client, target, job, build, wait):
    """Raise where the real run would be refused; check mode reports a change otherwise."""
    reason = blocker(job)
    if job.get('type') == 'manual' and (reason is None or is_unreached(job)):
        build = read_build_of(client, target, job, build)
        reason = blocker(job, build)
    if reason and not (wait and is_unreached(job) and 'canceled' not in reason):
        raise BuildkiteError('the API would refuse the unblock. %s' % reason)


def validate_user_id(value):
    text = value.strip().lower()
    if not UUID_PATTERN.fullmatch(text):
        raise BuildkiteConfigError(
            'unblocker',
            'unblocker must be the UUID of a Buildkite user, such as 01234567-89ab-cdef-0123-456789abcdef, '
            'got %r' % (value,),
        )
    return text


def forbidden_hint(api_message):
    if api_message.strip().rstrip('.') == 'Forbidden':
        return (
            'The token\'s user may not unblock this step: it needs write access to the pipeline, '
            'and membership of one of the step\'s allowed_teams when the step sets them (unblocker only records who '
            'unblocked the step; it grants nothing)'
        )
    return None


def describe_unblocker(job):
    user = job.get('unblocked_by') or {}
    who = user.get('name') or user.get('email') or user.get('id') or 'someone'
    when = job.get('unblocked_at')
    return '%s at %s' % (who, when) if when else who


def warn_on_other_values(client, target, job, build, fields, warn):
    """Warn when an already unblocked step's build meta-data differs from the requested fields."""
    if not fields:
        return
    build = read_build_of(client, target, job, build)
    if build is None:
        return
    differences = meta_data_differences(fields, build.get('meta_data'))
    if differences:
        warn(
            'opskite.buildkite: block step %s was already unblocked by %s with other values: %s'
            % (job.get('id'), describe_unblocker(job), '; '.join(differences))
        )


def wait_for_unblockable(client, target, job, timeout, poll_interval):
    """Poll the block job until it can be unblocked or no longer needs it. A timeout names what it waited for."""
    try:
        return wait_for_job(client, target, job, timeout, poll_interval, done=is_ready, follow=False)
    except BuildkiteWaitTimeout as exc:
        raise BuildkiteWaitTimeout(
            '%s. The build had not reached the block step: steps before it were still running' % str(exc).rstrip('.'),
            exc.job,
        )


def unblock_job(client, target, job_id, body, wait, wait_timeout, poll_interval):
    """Unblock the job and return (changed, job, warning), waiting for it first when asked."""

    def check_applied():
        job = get_job(client, target, job_id)
        return job if is_unblocked(job) else None

    while True:
        try:
            job, warning = send_change(client, target.job_path(job_id, '/unblock'), body, check_applied, 'unblock')
            return True, job, warning
        except BuildkiteHTTPError as exc:
            # Only a 4xx means the API rejected the change. A redirect or a 5xx tells nothing about the job.
            if exc.status in NOT_A_REFUSAL or not 400 <= exc.status < 500:
                raise
            refusal = exc

        # The API refused: read the job to tell "already unblocked" (the goal is met) and "not yet
        # reachable" (worth waiting for) from a real refusal.
        job = get_job(client, target, job_id)
        if is_unblocked(job):
            return False, job, None
        if wait and is_unreached(job) and 'canceled build' not in refusal.api_message.lower():
            job = wait_for_unblockable(client, target, job, wait_timeout, poll_interval)
            if is_unblocked(job):
                return False, job, None
            if job.get('unblockable'):
                wait = False
                continue
        reason = blocker(job, api_message=refusal.api_message) or forbidden_hint(refusal.api_message)
        if refusal.status == 403 and not reason:
            raise refusal
        text = 'HTTP %s: %s' % (refusal.status, refusal.api_message.rstrip('.'))
        raise BuildkiteError(
            '%s. %s' % (text, reason) if reason else text,
            status=refusal.status,
            method=refusal.method,
            path=refusal.path,
            api_message=refusal.api_message,
        )


def run(module, client, target, fields, body):
    params = module.params
    check_mode = module.check_mode

    job = build = None
    with failing_as('read', target):
        if target.step_key or check_mode:
            job, build = read_job(client, target, with_build=check_mode)

    job_id = job['id'] if job is not None else target.job_id
    if job is not None and is_unblocked(job):
        with failing_as('read the build of', target, job_id):
            warn_on_other_values(client, target, job, build, fields, module.warn)
        return False, job

    if check_mode:
        with failing_as('unblock', target, job_id):
            predict_unblock(client, target, job, build, params['wait'])
        if params['unblocker'] is not None:
            module.warn(
                'opskite.buildkite: check mode cannot tell whether unblocker %s is a user of the organization; '
                'the real run fails if it is not' % body['unblocker']
            )
        return True, job

    with failing_as('unblock', target, job_id):
        changed, job, warning = unblock_job(
            client, target, job_id, body, params['wait'], params['wait_timeout'], params['poll_interval']
        )
        if not changed:
            warn_on_other_values(client, target, job, build, fields, module.warn)
    if warning:
        client.warn(warning)
    return changed, job


def main():
    argument_spec = connection_argspec(
        fields=dict(type='dict'),
        unblocker=dict(type='str'),
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
        fields = convert_fields(params['fields'])
        body = {}
        if fields is not None:
            body['fields'] = fields
        if params['unblocker'] is not None:
            body['unblocker'] = validate_user_id(params['unblocker'])
        validate_wait(params)
        client = client_from_options(params, warn=module.warn)
    except BuildkiteConfigError as exc:
        module.fail_json(msg=str(exc))
        return

    changed = False
    job = None
    try:
        changed, job = run(module, client, target, fields, body)
    except BuildkiteWaitTimeout as exc:
        module.fail_json(msg=str(exc), changed=changed, job=exc.job)
    except (BuildkiteActionError, BuildkiteError) as exc:
        result = dict(changed=changed)
        if job is not None:
            result['job'] = job
        module.fail_json(msg=str(exc), **result)
    finally:
        client.close()

    result = dict(changed=changed, job=job)
    if module._diff and changed:
        result['diff'] = dict(
            before={'state': 'blocked'},
            after={'state': 'unblocked', 'fields': fields or {}},
        )
    module.exit_json(**result)


if __name__ == '__main__':
    main()
