#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: buildkite_job_log
short_description: Read, save or delete the log of a Buildkite job
version_added: 1.0.0
description:
  - Reads a Buildkite job's log into RV(content), saves it to a file with O(dest), returns its last lines with
    O(tail_lines), or deletes it with O(state=absent).
  - Logs can be as large as 1 GiB (the Buildkite agent's default limit). The module never holds a whole log in
    memory; RV(content) is cut to the last O(max_bytes), and O(dest) is written chunk by chunk.
author:
  - opskite engineers (@opskite)
extends_documentation_fragment:
  - opskite.buildkite.connection
  - opskite.buildkite.job_target
  - opskite.buildkite.attributes
  - ansible.builtin.files
options:
  state:
    description:
      - V(present) reads the log (or saves it with O(dest)); V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  format:
    description:
      - V(text) removes ANSI colour codes and Buildkite's timestamp markers (C(ESC _ bk;t=<ms> BEL)) and turns
        CRLF line ends into LF, leaving no escape byte.
      - V(raw) keeps the bytes as stored.
      - V(html) is the API's HTML rendering of the log.
    type: str
    choices: [text, raw, html]
    default: text
  dest:
    description:
      - Save the log to this file instead of returning it. The log is streamed to a temporary file next to it and
        moved into place, so readers never see a partial file; the task reports a change only when the content
        differs.
      - With O(format=raw) the file keeps the original bytes, including bytes that are not valid UTF-8.
    type: path
  max_bytes:
    description:
      - The most bytes of log returned in RV(content). A longer log is cut at the start of a line, keeping its end,
        and RV(truncated) is true. When the last O(max_bytes) hold no line start, the cut falls at the start of a
        character instead.
      - Ignored with O(dest).
    type: int
    default: 1048576
  tail_lines:
    description:
      - Return only the last N lines, fetched with C(Range) requests from the end of the log, so a large log is not
        read whole. At most O(max_bytes) are read.
      - Not with O(dest), O(format=html) or O(state=absent).
    type: int
  wait:
    description:
      - Wait until the job has finished before reading the log.
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
      - With O(dest), check mode reads the log to compare it with the file, and writes nothing.
      - With O(state=absent), check mode reads the log's size with C(HEAD) and sends no C(DELETE).
  diff_mode:
    support: none
notes:
  - The token needs the C(read_build_logs) scope to read logs and C(write_build_logs) to delete them.
  - Block, wait and trigger steps have no log; reading one fails with a message that says so.
  - Invalid UTF-8 in the log becomes U+FFFD in RV(content); a file written with O(dest) keeps the bytes.
  - A retried job keeps the log of each attempt; address the attempt by its own job id.
  - Deleting a log that is already gone (the API answers 404, or the log is empty) reports no change.
seealso:
  - module: opskite.buildkite.buildkite_job_retry
  - name: Buildkite REST API, job logs
    description: The log endpoints, their formats, C(HEAD) and C(Range).
    link: https://buildkite.com/docs/apis/rest-api/jobs#get-a-jobs-log-output
'''

EXAMPLES = r'''
- name: Read the end of a failed job's log as plain text
  opskite.buildkite.buildkite_job_log:
    organization: acme
    job: 0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    tail_lines: 50
  register: failed_log

- name: Show the last lines
  ansible.builtin.debug:
    msg: "{{ failed_log.content }}"

- name: Save the deploy step's log, with its original bytes, once the job has finished
  opskite.buildkite.buildkite_job_log:
    organization: acme
    pipeline: deploy
    build: 1234
    step_key: deploy
    format: raw
    dest: /var/log/deploys/1234.log
    mode: "0640"
    wait: true
  register: saved_log

- name: Delete a log that printed a secret
  opskite.buildkite.buildkite_job_log:
    url: https://buildkite.com/acme/web/builds/1234#0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b
    state: absent
'''

RETURN = r'''
content:
  description:
    - The log, or its last O(max_bytes) cut at the start of a line, or its last O(tail_lines) lines.
  returned: when O(state=present) and O(dest) is not set
  type: str
  sample: "Running tests\n42 passed\n"
truncated:
  description: Whether RV(content) is only the end of the log.
  returned: when O(state=present) and O(dest) is not set
  type: bool
  sample: false
size:
  description:
    - Without O(dest), the stored size of the log in bytes, as the API reports it.
    - With O(dest), the size of the file written, in bytes.
  returned: when O(state=present), where known
  type: int
  sample: 1024
header_times:
  description:
    - Times of the log's section headers, in nanoseconds since the epoch, as the API's JSON form gives them.
    - Returned only when the log is small enough to be read whole (up to four times O(max_bytes)), and not with
      O(tail_lines), O(dest) or O(format=html).
  returned: when the API gives them
  type: list
  elements: int
  sample: [1733306400000000000]
dest:
  description: The file written.
  returned: when O(dest) is set
  type: str
  sample: /var/log/deploys/1234.log
checksum:
  description: SHA-1 checksum of the file's content.
  returned: when O(dest) is set
  type: str
  sample: 6e1f2c0f8c3d2a7b9e5d4c3b2a1f0e9d8c7b6a59
job:
  description:
    - The job, as the API returns it, when the module read it (with O(wait=true) or O(step_key), or to explain an
      empty log).
    - An empty log of a job that has not started gets a warning that suggests O(wait=true).
  returned: when read
  type: dict
  sample: {"id": "0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b", "state": "failed"}
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.opskite.buildkite.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    BuildkiteConfigError,
    BuildkiteError,
    BuildkiteHTTPError,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._files import validate_file_options
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import (
    FINISHED_STATES,
    BuildkiteActionError,
    BuildkiteWaitTimeout,
    failing_as,
    read_job,
    resolve_target,
    wait_for_job,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._logs import (
    explain_missing_log,
    log_size,
    read_content,
    read_tail_lines,
    stream_to,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._options import (
    JOB_TARGET_MUTUALLY_EXCLUSIVE,
    JOB_TARGET_REQUIRED_ONE_OF,
    WAIT_ARGSPEC,
    client_from_options,
    connection_argspec,
    validate_number,
    validate_wait,
)

# Job types that never have a log, so waiting for one to finish would wait in vain.
NO_LOG_TYPES = {'manual': 'block', 'waiter': 'wait', 'trigger': 'trigger'}
MAX_CONTENT = 256 * 1024 * 1024
MAX_TAIL_LINES = 1000000


def validate_params(params):
    if params['tail_lines'] is not None:
        validate_number('tail_lines', params['tail_lines'], 1, MAX_TAIL_LINES, 'lines')
        for option, conflict in (
            ('dest', params['dest'] is not None),
            ('format=html', params['format'] == 'html'),
            ('state=absent', params['state'] == 'absent'),
        ):
            if conflict:
                raise BuildkiteConfigError('tail_lines', 'tail_lines cannot be combined with %s' % option)
    if params['dest'] is not None and params['state'] == 'absent':
        raise BuildkiteConfigError('dest', 'dest cannot be combined with state=absent')
    validate_number('max_bytes', params['max_bytes'], 1, MAX_CONTENT, 'bytes')
    validate_wait(params)
    if params['dest'] is not None:
        validate_file_options(params)


def save_log(module, client, target, job_id):
    """Stream the log to ``dest`` through a temporary file; return the result keys."""
    params = module.params
    dest = os.path.abspath(params['dest'])
    existing = module.digest_from_file(dest, 'sha1') if os.path.exists(dest) else None

    if module.check_mode:
        checksum, size = stream_to(client, target, job_id, params['format'], None, check_only=True)
        changed = checksum != existing
    else:
        descriptor, temporary = tempfile.mkstemp(prefix='.buildkite-log-', dir=os.path.dirname(dest))
        try:
            with os.fdopen(descriptor, 'wb') as handle:
                checksum, size = stream_to(client, target, job_id, params['format'], handle)
            changed = checksum != existing
            if changed:
                module.atomic_move(temporary, dest)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    if os.path.exists(dest) or not module.check_mode:
        file_args = module.load_file_common_arguments(params, path=dest)
        changed = module.set_fs_attributes_if_different(file_args, changed)
    return changed, {'dest': dest, 'checksum': checksum, 'size': size}


def delete_log(module, client, target, job_id):
    """Delete the log unless it is already gone; return (changed, result keys)."""
    size = log_size(client, target, job_id)
    if not size:
        return False, {}
    if module.check_mode:
        return True, {}
    try:
        client.request('DELETE', target.job_path(job_id, '/log'), ok_statuses=(200, 202, 204))
    except BuildkiteHTTPError as exc:
        if exc.status != 404:
            raise
        # The log existed a moment ago, so this task's own earlier attempt (a resend after a lost
        # response) or someone else deleted it.
        module.warn('opskite.buildkite: the log of job %s was already gone when the deletion was answered' % job_id)
    return True, {}


def run(module, client, target):
    params = module.params
    job = None

    with failing_as('read', target):
        if target.step_key:
            job, _build = read_job(client, target)
    job_id = job['id'] if job is not None else target.job_id

    if params['wait']:
        with failing_as('wait for', target, job_id):
            if job is None:
                job = client.get_json(target.job_path(job_id))
            if job.get('type') in NO_LOG_TYPES:
                raise BuildkiteError(
                    'the job is a %s step (type %s), and only command jobs have a log'
                    % (NO_LOG_TYPES[job['type']], job['type'])
                )
            job = wait_for_job(client, target, job, params['wait_timeout'], params['poll_interval'], follow=False)

    result = {}
    if job is not None:
        result['job'] = job

    if params['state'] == 'absent':
        with failing_as('delete the log of', target, job_id):
            changed, keys = delete_log(module, client, target, job_id)
        result.update(keys)
        return changed, result

    with failing_as('read the log of', target, job_id):
        try:
            if params['dest'] is not None:
                changed, keys = save_log(module, client, target, job_id)
            elif params['tail_lines'] is not None:
                changed = False
                keys = read_tail_lines(
                    client, target, job_id, params['format'], params['tail_lines'], params['max_bytes']
                )
            else:
                changed = False
                keys = read_content(client, target, job_id, params['format'], params['max_bytes'])
        except BuildkiteHTTPError as exc:
            if exc.status != 404:
                raise
            raise explain_missing_log(client, target, job_id, exc)
        if not keys.get('size') and not keys.get('content'):
            job = warn_if_not_started(module, client, target, job_id, job)
            if job is not None:
                result['job'] = job
    result.update(keys)
    return changed, result


def warn_if_not_started(module, client, target, job_id, job):
    """Warn when an empty log belongs to a job that has not started; return the job if it was read.

    Reading the job costs a request, so it happens only for an empty log.
    """
    if job is None:
        job = client.get_json(target.job_path(job_id))
    state = job.get('state')
    if state not in FINISHED_STATES and state != 'running':
        module.warn(
            'opskite.buildkite: job %s is %s and has not started, so its log is empty; set wait=true to read '
            'the log once the job has finished' % (job_id, state)
        )
    return job


def main():
    argument_spec = connection_argspec(
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        format=dict(type='str', choices=['text', 'raw', 'html'], default='text'),
        dest=dict(type='path'),
        max_bytes=dict(type='int', default=1048576),
        tail_lines=dict(type='int'),
        wait=dict(type='bool', default=False),
        **WAIT_ARGSPEC,
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        add_file_common_args=True,
        mutually_exclusive=JOB_TARGET_MUTUALLY_EXCLUSIVE,
        required_one_of=JOB_TARGET_REQUIRED_ONE_OF,
    )
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)

    try:
        target = resolve_target(module.params)
        validate_params(module.params)
        client = client_from_options(module.params, warn=module.warn)
    except BuildkiteConfigError as exc:
        module.fail_json(msg=str(exc))
        return

    try:
        changed, result = run(module, client, target)
    except BuildkiteWaitTimeout as exc:
        module.fail_json(msg=str(exc), job=exc.job)
    except (BuildkiteActionError, BuildkiteError) as exc:
        module.fail_json(msg=str(exc))
    finally:
        client.close()

    module.exit_json(changed=changed, **result)


if __name__ == '__main__':
    main()
