# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: buildkite_job_env
short_description: Read the environment variables of Buildkite jobs
version_added: 1.0.0
description:
  - Returns the environment of each job given as a term, as a dict of variable names to values, read with the
    REST API's C(GET .../env). One dict per term, in the order of the terms; C(query) or C(wantlist=true) gives
    the list.
  - Values come back exactly as the API sends them, newlines, quotes, C(=) and empty strings included, except that
    the values of variables whose names match O(redact) become C([REDACTED]).
  - All terms share one HTTP session, so several jobs cost one connection and one request each.
author:
  - opskite engineers (@opskite)
extends_documentation_fragment:
  - opskite.buildkite.connection
  - opskite.buildkite.connection.plugins
options:
  _terms:
    description:
      - Jobs to read, each a job UUID or a job's web URL,
        C(https://buildkite.com/<organization>/<pipeline>/builds/<number>#<job>).
      - A UUID is read through the organization's routes and needs O(organization). A web URL names its
        organization, pipeline and build; where O(organization) is also set, it must agree with the URL.
      - A list given as one term counts as its items, so C(lookup(..., job_ids)) reads every job in C(job_ids).
    type: list
    elements: str
    required: true
  redact:
    description:
      - The values of variables whose names match one of these glob patterns are returned as C([REDACTED]). An empty
        value stays empty.
      - C(*) matches any characters, C(?) one character, C([...]) one character of a set. Matching ignores case, so
        C(*_TOKEN) also matches C(deploy_token); the Buildkite agent matches case-sensitively on Linux and macOS,
        so this redacts at least what the agent would.
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
  variable_names:
    description:
      - Return only these variables, by exact name. By default every variable is returned.
      - What happens to a name that a job's environment does not contain depends on O(on_missing).
      - The module M(opskite.buildkite.buildkite_job_info) calls this option C(variables). A lookup cannot take a
        keyword of that name, because Ansible passes its own variables to every lookup under it.
    type: list
    elements: str
  on_missing:
    description:
      - What to do when a job is not found (HTTP 404), or a name in O(variable_names) is not in a job's
        environment.
      - V(error) fails the lookup.
      - V(warn) warns, then returns an empty dict for a missing job, so that the results stay in the order of the
        terms, and leaves a missing name out of the job's dict.
      - V(skip) does the same without a warning.
      - Other errors, such as a token without the C(read_job_env) scope, always fail.
    type: str
    choices:
      - error
      - warn
      - skip
    default: error
notes:
  - The token needs the C(read_job_env) scope.
  - A lookup runs again each time a variable that uses it is templated, which sends its requests again. Store the
    result with M(ansible.builtin.set_fact) and use that fact.
  - O(redact) only hides values by name. A secret in a variable with another name, and every variable when
    O(redact=[]), is returned as it is; use C(no_log) on tasks that show or register it.
  - The token never appears in the lookup's messages, warnings or C(-vvv) output.
seealso:
  - module: opskite.buildkite.buildkite_job_info
    description: Reads a job, optionally with its environment, and waits for states.
  - name: Buildkite REST API, get a job's environment variables
    description: The env endpoint and the C(read_job_env) scope.
    link: https://buildkite.com/docs/apis/rest-api/jobs#get-a-jobs-environment-variables
'''

EXAMPLES = r'''
- name: Keep the environment of a job as a fact, so that it is read once
  ansible.builtin.set_fact:
    release_env: "{{ lookup('opskite.buildkite.buildkite_job_env', release_job_id, organization='acme') }}"

- name: Use it
  ansible.builtin.debug:
    msg: "Release {{ release_env.RELEASE_NAME }} of commit {{ release_env.BUILDKITE_COMMIT }}"

- name: Read two variables of a job given by its web URL, with the token from a vault variable
  ansible.builtin.set_fact:
    build_info: >-
      {{ lookup('opskite.buildkite.buildkite_job_env',
                'https://buildkite.com/acme/web/builds/1234#0190a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b',
                variable_names=['BUILDKITE_COMMIT', 'BUILDKITE_BRANCH'],
                api_token=vault_buildkite_token) }}

- name: Read the environments of several jobs over one connection, as a list of dicts
  ansible.builtin.set_fact:
    shard_envs: "{{ query('opskite.buildkite.buildkite_job_env', *shard_job_ids, on_missing='skip') }}"

- name: Read a job's secrets too, and keep them out of the output
  ansible.builtin.set_fact:
    deploy_env: "{{ lookup('opskite.buildkite.buildkite_job_env', deploy_job_id, redact=[]) }}"
  no_log: true
'''

RETURN = r'''
_raw:
  description:
    - One dict per term, of the job's environment variable names to their values, as strings.
    - Values of names matching O(redact) are C([REDACTED]).
    - An empty dict for a job that was not found, with O(on_missing=warn) or O(on_missing=skip).
  type: list
  elements: dict
  sample:
    - BUILDKITE_BRANCH: main
      BUILDKITE_COMMIT: 3f1c2d4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d
      RELEASE_NOTES: "Line one\nLine two"
      DEPLOY_TOKEN: "[REDACTED]"
'''

from ansible.errors import AnsibleLookupError, AnsibleOptionsError
from ansible.plugins.lookup import LookupBase
from ansible.utils.display import Display

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteConfigError
from ansible_collections.opskite.buildkite.plugins.module_utils._env import (
    describe_missing_variables,
    env_settings,
    missing_variables_error,
    shape_env,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import (
    BuildkiteActionError,
    failing_as,
    read_job_env,
)
from ansible_collections.opskite.buildkite.plugins.plugin_utils._lookup import (
    check_boolean_option,
    check_direct_options,
    client_from_lookup,
    describe_origin,
    option_and_origin,
    plugin_var_options,
    reject_unknown_options,
    target_from_term,
)

display = Display()
PREFIX = 'opskite.buildkite.buildkite_job_env: '


def is_missing_job(error):
    """Tell whether an error means the job was not found, rather than a wrong organization or api_url.

    Buildkite returns 404 for every unknown path segment, and only "No job found" names the job.
    """
    return error.status == 404 and (error.api_message or '').strip().rstrip('.') == 'No job found'


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        try:
            reject_unknown_options(self, kwargs)
            check_direct_options(self, kwargs)
        except BuildkiteConfigError as exc:
            raise AnsibleOptionsError(str(exc))
        var_options = plugin_var_options(self, variables, self._templar)
        self.set_options(var_options=var_options, direct=kwargs)

        try:
            check_boolean_option(self, 'validate_certs', var_options, kwargs)
            settings = env_settings(
                self.get_option('redact'),
                self.get_option('variable_names'),
                self.get_option('on_missing'),
                variables_option='variable_names',
            )
            organization, origin = option_and_origin(self, 'organization', var_options, kwargs)
            targets = [
                target_from_term(term, index, organization, describe_origin('organization', origin))
                for index, term in enumerate(self._flatten(terms), 1)
            ]
            client = client_from_lookup(self, warn=display.warning)
        except BuildkiteConfigError as exc:
            raise AnsibleOptionsError(str(exc))

        try:
            return [self.read_env(client, target, settings) for target in targets]
        finally:
            client.close()

    def read_env(self, client, target, settings):
        """Return the job's environment, shaped by the settings, or {} for a missing job unless on_missing=error."""
        display.vvv(PREFIX + 'reading the environment of %s' % target.describe())
        try:
            with failing_as('read the environment of', target):
                env, missing = shape_env(read_job_env(client, target, target.job_id), settings)
                if missing and settings.on_missing == 'error':
                    raise missing_variables_error(missing, settings.variables_option)
        except BuildkiteActionError as exc:
            if not is_missing_job(exc) or settings.on_missing == 'error':
                raise AnsibleLookupError(str(exc))
            if settings.on_missing == 'warn':
                display.warning('opskite.buildkite: %s; returning an empty dict (on_missing=warn)' % exc)
            return {}

        if missing and settings.on_missing == 'warn':
            display.warning(
                'opskite.buildkite: %s (on_missing=warn)' % describe_missing_variables(missing, target.describe())
            )
        return env
