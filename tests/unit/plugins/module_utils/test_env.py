# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of a job environment's redaction patterns, variable selection and option validation."""

from __future__ import annotations

import pytest

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteConfigError, BuildkiteError
from ansible_collections.opskite.buildkite.plugins.module_utils._env import (
    DEFAULT_REDACT,
    REDACTED,
    describe_missing_variables,
    env_settings,
    glob_to_regex,
    missing_variables_error,
    shape_env,
)

# An environment as the API sends it, with the values that a careless client would mangle.
ENV = {
    'BUILDKITE_BRANCH': 'main',
    'BUILDKITE_MESSAGE': 'Fix the build\n\nSecond paragraph with "quotes" and a=b',
    'DATABASE_PASSWORD': 'hunter2-hunter2',
    'EMPTY_TOKEN': '',
    'deploy_token': 'lowercase-secret',
    'QUOTED': "'single' \"double\" `back`",
    'WITH_EQUALS': 'key=value=more',
    'TEMPLATE_LIKE': '{{ not_a_template }}',
}


def config_error(function, *args, **kwargs):
    with pytest.raises(BuildkiteConfigError) as raised:
        function(*args, **kwargs)
    return raised.value


def redacts(patterns, name):
    return env_settings(redact=patterns).is_redacted(name)


# Redaction patterns


@pytest.mark.parametrize(
    'name',
    [
        'DATABASE_PASSWORD',
        'AWS_SECRET',
        'GITHUB_TOKEN',
        'SSH_PRIVATE_KEY',
        'AWS_ACCESS_KEY',
        'AWS_SECRET_KEY',
        'AZURE_CONNECTION_STRING',
        'A_B_C_TOKEN',
    ],
)
def test_default_list_redacts_agent_names(name):
    assert redacts(None, name)


@pytest.mark.parametrize('name', ['TOKEN', 'PASSWORD', 'BUILDKITE_BRANCH', 'TOKEN_FILE', 'MY_TOKENS', 'SECRET_ID'])
def test_default_list_keeps_other_names(name):
    assert not redacts(None, name)


def test_default_list_is_agents_list():
    assert DEFAULT_REDACT == (
        '*_PASSWORD',
        '*_SECRET',
        '*_TOKEN',
        '*_PRIVATE_KEY',
        '*_ACCESS_KEY',
        '*_SECRET_KEY',
        '*_CONNECTION_STRING',
    )


@pytest.mark.parametrize('name', ['deploy_token', 'Deploy_Token', 'DEPLOY_TOKEN'])
def test_matching_ignores_case(name):
    assert redacts(['*_TOKEN'], name)


@pytest.mark.parametrize(
    'pattern, name, expected',
    [
        ('DB_*', 'DB_HOST', True),
        ('DB_*', 'DB_', True),
        ('DB_*', 'XDB_HOST', False),
        ('*', 'ANYTHING', True),
        ('API_KEY_?', 'API_KEY_1', True),
        ('API_KEY_?', 'API_KEY_12', False),
        ('KEY_[AB]', 'KEY_A', True),
        ('KEY_[AB]', 'KEY_C', False),
        ('KEY_[0-9]', 'KEY_7', True),
        ('KEY_[!0-9]', 'KEY_7', False),
        ('KEY_[!0-9]', 'KEY_X', True),
        ('KEY_[^0-9]', 'KEY_X', True),
        ('KEY_[]]', 'KEY_]', True),
        ('A.B', 'A.B', True),
        ('A.B', 'AXB', False),
        ('A+B', 'A+B', True),
        ('STAR_\\*', 'STAR_*', True),
        ('STAR_\\*', 'STAR_X', False),
        ('NAME-WITH.DOTS', 'name-with.dots', True),
    ],
)
def test_glob_pattern(pattern, name, expected):
    assert redacts([pattern], name) is expected


def test_pattern_must_match_whole_name():
    assert not redacts(['TOKEN'], 'MY_TOKEN')
    assert not redacts(['MY_'], 'MY_TOKEN')


def test_empty_list_redacts_nothing():
    assert not redacts([], 'DATABASE_PASSWORD')


def test_glob_is_translated_without_regex_syntax():
    assert glob_to_regex('A(B)|C') == r'A\(B\)\|C'


# Option validation


@pytest.mark.parametrize(
    'patterns, message',
    [
        (['KEY_[AB'], 'has a "[" without its closing "]"'),
        (['KEY_\\'], 'ends with a lone backslash'),
        (['KEY_[!]'], 'has a "[" without its closing "]"'),
        (['KEY_[z-a]'], 'is not a valid glob pattern'),
        ([''], 'non-empty glob patterns'),
        (['  '], 'non-empty glob patterns'),
        ([42], 'non-empty glob patterns'),
        (['*' * 300], 'longer than 256 characters'),
        ('*_TOKEN', 'must be a list of glob patterns'),
        ({'a': 1}, 'must be a list of glob patterns'),
    ],
)
def test_invalid_redact_is_rejected_naming_option(patterns, message):
    error = config_error(env_settings, redact=patterns)

    assert error.option == 'redact'
    assert message in str(error)


@pytest.mark.parametrize('names', [[''], ['A=B'], ['A\x00B'], [None], [7], 'BUILDKITE_COMMIT'])
def test_invalid_variables_are_rejected_naming_option(names):
    error = config_error(env_settings, variables=names)

    assert error.option == 'variables'
    assert 'variables must' in str(error)


@pytest.mark.parametrize('value', ['fail', '', None, 'ERROR'])
def test_invalid_on_missing_is_rejected_naming_option(value):
    error = config_error(env_settings, on_missing=value)

    assert error.option == 'on_missing'
    assert 'error, warn, skip' in str(error)


def test_variables_message_uses_plugin_option_name():
    error = config_error(env_settings, variables=['A=B'], variables_option='variable_names')

    assert error.option == 'variable_names'
    assert str(error).startswith('variable_names must contain variable names')


def test_duplicate_variables_are_kept_once():
    assert env_settings(variables=['A', 'B', 'A']).variables == ('A', 'B')


# Shaping the environment


def test_values_come_back_exactly_as_sent():
    env, missing = shape_env(ENV, env_settings(redact=[]))

    assert env == ENV
    assert missing == []


def test_default_redaction_replaces_secret_values():
    env, _missing = shape_env(ENV, env_settings())

    assert env['DATABASE_PASSWORD'] == REDACTED
    assert env['deploy_token'] == REDACTED
    assert env['BUILDKITE_MESSAGE'] == ENV['BUILDKITE_MESSAGE']
    assert env['WITH_EQUALS'] == 'key=value=more'


def test_empty_secret_value_stays_empty():
    env, _missing = shape_env(ENV, env_settings())

    assert env['EMPTY_TOKEN'] == ''


def test_environment_is_not_changed_in_place():
    original = dict(ENV)

    shape_env(ENV, env_settings())

    assert original == ENV


def test_variables_select_names_in_their_order():
    env, missing = shape_env(ENV, env_settings(variables=['WITH_EQUALS', 'BUILDKITE_BRANCH']))

    assert list(env) == ['WITH_EQUALS', 'BUILDKITE_BRANCH']
    assert missing == []


def test_selected_secret_is_still_redacted():
    env, _missing = shape_env(ENV, env_settings(variables=['DATABASE_PASSWORD']))

    assert env == {'DATABASE_PASSWORD': REDACTED}


def test_absent_variables_are_reported_missing():
    env, missing = shape_env(ENV, env_settings(variables=['BUILDKITE_BRANCH', 'NOPE', 'ALSO_NOPE']))

    assert env == {'BUILDKITE_BRANCH': 'main'}
    assert missing == ['NOPE', 'ALSO_NOPE']


def test_variable_names_are_case_sensitive():
    env, missing = shape_env(ENV, env_settings(variables=['buildkite_branch']))

    assert env == {}
    assert missing == ['buildkite_branch']


def test_empty_variables_list_selects_nothing():
    env, missing = shape_env(ENV, env_settings(variables=[]))

    assert env == {}
    assert missing == []


def test_missing_message_names_one_variable():
    assert describe_missing_variables(['NOPE']) == 'the environment has no variable NOPE'


def test_missing_message_names_job_and_variables():
    message = describe_missing_variables(['A', 'B'], 'job 1 in acme')

    assert message == 'the environment of job 1 in acme has no variables A, B'


def test_missing_error_names_plugin_option():
    assert 'check the names in variable_names,' in str(missing_variables_error(['NOPE'], 'variable_names'))


def test_missing_error_says_what_to_do():
    error = missing_variables_error(['NOPE'])

    assert isinstance(error, BuildkiteError)
    assert str(error) == (
        'the environment has no variable NOPE; check the names in variables, or set on_missing to warn or skip'
    )
