# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the buildkite_job_env lookup, loaded by name through Ansible's plugin loader.

Options go through Ansible's configuration machinery (set_options, get_option), so these tests
also check where each option may come from and which source wins. The ini source needs a
configuration file that Ansible reads at start-up, so those cases run in a child Python process
with ANSIBLE_CONFIG set.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import responses
from ansible.errors import AnsibleError
from ansible.plugins.loader import lookup_loader
from ansible.utils.display import Display

from ansible_collections.opskite.buildkite.plugins.lookup import buildkite_job_env
from ansible_collections.opskite.buildkite.plugins.plugin_utils._lookup import option_and_origin, plugin_var_options

PLUGIN = 'opskite.buildkite.buildkite_job_env'
API_URL = 'https://api.buildkite.com/v2'
JOB_ID = '0199a1b2-3000-4000-8000-000000000001'
OTHER_JOB_ID = '0199a1b2-3000-4000-8000-000000000002'
JOB_URL = 'https://buildkite.com/acme/web/builds/101#%s' % OTHER_JOB_ID
ORGANIZATION_ENV_URL = '%s/organizations/acme/jobs/%s/env' % (API_URL, JOB_ID)
BUILD_ENV_URL = '%s/organizations/acme/pipelines/web/builds/101/jobs/%s/env' % (API_URL, OTHER_JOB_ID)

# Option name, its Ansible variable, its environment variable, and a valid value as text.
CONNECTION_SOURCES = [
    ('api_token', 'buildkite_api_token', 'BUILDKITE_API_TOKEN', 'bkua_token'),
    ('api_url', 'buildkite_api_url', 'BUILDKITE_API_URL', 'https://buildkite.example.com/v2'),
    ('validate_certs', 'buildkite_validate_certs', 'BUILDKITE_VALIDATE_CERTS', 'false'),
    ('ca_path', 'buildkite_ca_path', 'BUILDKITE_CA_PATH', '/etc/ssl/certs/ca.pem'),
    ('timeout', 'buildkite_timeout', 'BUILDKITE_TIMEOUT', '12.5'),
    ('api_retries', 'buildkite_api_retries', 'BUILDKITE_API_RETRIES', '3'),
    ('organization', 'buildkite_organization', 'BUILDKITE_ORGANIZATION_SLUG', 'acme'),
]
ENVIRONMENT_VARIABLES = [source[2] for source in CONNECTION_SOURCES]

JOB_ENV = {
    'BUILDKITE_BRANCH': 'main',
    'BUILDKITE_MESSAGE': 'Fix it\n\nwith "quotes", \'apostrophes\' and a=b',
    'DATABASE_PASSWORD': 'hunter2-hunter2',
    'EMPTY': '',
    'deploy_token': 'lowercase-secret',
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """Remove the Buildkite variables of the shell that runs the tests, such as the simulator's."""
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def token():
    return secrets.token_urlsafe(48)


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def clients(monkeypatch):
    """The clients the lookup creates, in order; their waits are recorded, not slept."""
    created = []
    real = buildkite_job_env.client_from_lookup

    def spy(plugin, warn=None):
        client = real(plugin, warn=warn)
        client.sleeps = []
        client.sleep = client.sleeps.append
        client.closed = False
        close = client.close

        def record_close():
            client.closed = True
            close()

        client.close = record_close
        created.append(client)
        return client

    monkeypatch.setattr(buildkite_job_env, 'client_from_lookup', spy)
    return created


def load():
    lookup = lookup_loader.get(PLUGIN)
    assert lookup is not None
    return lookup


def run_lookup(terms, variables=None, **kwargs):
    return load().run(terms, variables=variables or {}, **kwargs)


def unwrapped(text):
    """Return output with its line breaks as spaces: ansible-core 2.16 wraps warnings at 80 columns."""
    return ' '.join(text.split())


def connected(token, **options):
    options.setdefault('organization', 'acme')
    return dict(options, api_token=token)


# Where options come from, and which source wins


@pytest.mark.parametrize('option, variable, environment_variable, value', CONNECTION_SOURCES)
def test_option_read_from_ansible_variable(option, variable, environment_variable, value):
    lookup = load()
    lookup.set_options(var_options={variable: value}, direct={})

    assert option_and_origin(lookup, option, {variable: value}, {})[1] == 'var: %s' % variable


@pytest.mark.parametrize('option, variable, environment_variable, value', CONNECTION_SOURCES)
def test_option_read_from_environment(monkeypatch, option, variable, environment_variable, value):
    monkeypatch.setenv(environment_variable, value)
    lookup = load()
    lookup.set_options(var_options={}, direct={})

    assert option_and_origin(lookup, option, {}, {})[1] == 'env: %s' % environment_variable


def test_keyword_beats_variable_and_environment(monkeypatch):
    monkeypatch.setenv('BUILDKITE_ORGANIZATION_SLUG', 'from-env')
    lookup = load()
    var_options = {'buildkite_organization': 'from-var'}
    direct = {'organization': 'from-keyword'}
    lookup.set_options(var_options=var_options, direct=direct)

    assert option_and_origin(lookup, 'organization', var_options, direct) == ('from-keyword', 'Direct')


def test_variable_beats_environment(monkeypatch):
    monkeypatch.setenv('BUILDKITE_TIMEOUT', '5')
    lookup = load()
    var_options = {'buildkite_timeout': '9'}
    lookup.set_options(var_options=var_options, direct={})

    assert option_and_origin(lookup, 'timeout', var_options, {}) == (9.0, 'var: buildkite_timeout')


def test_environment_gives_typed_values(monkeypatch):
    monkeypatch.setenv('BUILDKITE_VALIDATE_CERTS', 'no')
    monkeypatch.setenv('BUILDKITE_API_RETRIES', '2')
    lookup = load()
    lookup.set_options(var_options={}, direct={})

    assert lookup.get_option('validate_certs') is False
    assert lookup.get_option('api_retries') == 2


def test_defaults_without_any_source():
    lookup = load()
    lookup.set_options(var_options={}, direct={})

    assert lookup.get_option('api_url') == 'https://api.buildkite.com/v2'
    assert lookup.get_option('api_token') is None
    assert lookup.get_option('timeout') == 30
    assert lookup.get_option('on_missing') == 'error'
    assert lookup.get_option('variable_names') is None
    assert lookup.get_option('redact') == [
        '*_PASSWORD',
        '*_SECRET',
        '*_TOKEN',
        '*_PRIVATE_KEY',
        '*_ACCESS_KEY',
        '*_SECRET_KEY',
        '*_CONNECTION_STRING',
    ]


# The child process loads the plugin with ANSIBLE_CONFIG set, applies each case's environment,
# variables and keyword arguments, and prints every connection option's value and origin.
READ_OPTIONS_SCRIPT = textwrap.dedent(
    '''
    import json, os, sys
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder
    _AnsibleCollectionFinder(paths=[sys.argv[1]])._install()
    from ansible.plugins.loader import lookup_loader
    from ansible_collections.opskite.buildkite.plugins.plugin_utils._lookup import option_and_origin
    results = []
    for case in json.loads(sys.argv[2]):
        os.environ.update(case['env'])
        lookup = lookup_loader.get('opskite.buildkite.buildkite_job_env')
        lookup.set_options(var_options=case['vars'], direct=case['direct'])
        results.append({
            name: option_and_origin(lookup, name, case['vars'], case['direct']) for name in sys.argv[3].split(',')
        })
        for name in case['env']:
            del os.environ[name]
    print(json.dumps(results))
    '''
)


@pytest.fixture(scope='module')
def ansible_cfg(tmp_path_factory):
    path = tmp_path_factory.mktemp('config') / 'ansible.cfg'
    path.write_text(
        '[buildkite]\n'
        'api_token = bkua_from_ini\n'
        'api_url = https://ini.example.com/v2\n'
        'validate_certs = false\n'
        'ca_path = /etc/ssl/ini-ca.pem\n'
        'timeout = 11\n'
        'api_retries = 4\n'
        'organization = from-ini\n',
        encoding='utf-8',
    )
    return path


def read_options_with_ini(ansible_cfg, cases):
    """Return, for each case, every connection option's [value, origin] as a child process reads them."""
    plugin_path = Path(buildkite_job_env.__file__)
    collections_root = next(parent.parent for parent in plugin_path.parents if parent.name == 'ansible_collections')
    environment = dict(os.environ, ANSIBLE_CONFIG=str(ansible_cfg))
    for name in ENVIRONMENT_VARIABLES:
        environment.pop(name, None)
    completed = subprocess.run(
        [
            sys.executable,
            '-c',
            READ_OPTIONS_SCRIPT,
            str(collections_root),
            json.dumps(cases),
            ','.join(source[0] for source in CONNECTION_SOURCES),
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def case(env=None, variables=None, direct=None):
    return {'env': env or {}, 'vars': variables or {}, 'direct': direct or {}}


def test_ini_section_sets_every_option(ansible_cfg):
    (options,) = read_options_with_ini(ansible_cfg, [case()])

    assert options['api_token'] == ['bkua_from_ini', str(ansible_cfg)]
    assert options['api_url'] == ['https://ini.example.com/v2', str(ansible_cfg)]
    assert options['validate_certs'] == [False, str(ansible_cfg)]
    assert options['ca_path'] == ['/etc/ssl/ini-ca.pem', str(ansible_cfg)]
    assert options['timeout'] == [11.0, str(ansible_cfg)]
    assert options['api_retries'] == [4, str(ansible_cfg)]
    assert options['organization'] == ['from-ini', str(ansible_cfg)]


def test_precedence_keyword_variable_environment_ini(ansible_cfg):
    env = {'BUILDKITE_ORGANIZATION_SLUG': 'from-env'}
    variables = {'buildkite_organization': 'from-var'}
    direct = {'organization': 'from-keyword'}

    results = read_options_with_ini(
        ansible_cfg,
        [
            case(),
            case(env=env),
            case(env=env, variables=variables),
            case(env=env, variables=variables, direct=direct),
        ],
    )

    assert [result['organization'] for result in results] == [
        ['from-ini', str(ansible_cfg)],
        ['from-env', 'env: BUILDKITE_ORGANIZATION_SLUG'],
        ['from-var', 'var: buildkite_organization'],
        ['from-keyword', 'Direct'],
    ]


def test_each_source_overrides_ini_on_its_own(ansible_cfg):
    results = read_options_with_ini(
        ansible_cfg,
        [
            case(env={'BUILDKITE_API_TOKEN': 'bkua_from_env'}),
            case(variables={'buildkite_api_token': 'bkua_from_var'}),
            case(direct={'api_token': 'bkua_from_keyword'}),
        ],
    )

    assert [result['api_token'][0] for result in results] == ['bkua_from_env', 'bkua_from_var', 'bkua_from_keyword']
    assert all(result['organization'][0] == 'from-ini' for result in results)


# Reading environments


def test_terms_share_one_client(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, json={'env': {'A': '1'}})
    api.get(BUILD_ENV_URL, json={'env': {'B': '2'}})

    result = run_lookup([JOB_ID, JOB_URL], **connected(token))

    assert result == [{'A': '1'}, {'B': '2'}]
    assert len(clients) == 1
    assert clients[0].closed
    assert [call.request.url for call in api.calls] == [ORGANIZATION_ENV_URL, BUILD_ENV_URL]


def test_list_term_counts_as_its_items(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, json={'env': {'A': '1'}})
    api.get(BUILD_ENV_URL, json={'env': {'B': '2'}})

    result = run_lookup([[JOB_ID, JOB_URL]], **connected(token))

    assert result == [{'A': '1'}, {'B': '2'}]


def test_request_sends_token_and_json_accept(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, json={'env': {}})

    run_lookup([JOB_ID], **connected(token))

    headers = api.calls[0].request.headers
    assert headers['Authorization'] == 'Bearer %s' % token
    assert headers['Accept'] == 'application/json'


def test_token_from_ansible_variable_is_used(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, json={'env': {}})

    run_lookup([JOB_ID], variables={'buildkite_api_token': token, 'buildkite_organization': 'acme'})

    assert api.calls[0].request.headers['Authorization'] == 'Bearer %s' % token


def test_no_terms_send_nothing(api, clients, token):
    assert run_lookup([], **connected(token)) == []


def test_values_come_back_as_sent_with_default_redaction(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, json={'env': JOB_ENV})

    (env,) = run_lookup([JOB_ID], **connected(token))

    assert env == {
        'BUILDKITE_BRANCH': 'main',
        'BUILDKITE_MESSAGE': JOB_ENV['BUILDKITE_MESSAGE'],
        'DATABASE_PASSWORD': '[REDACTED]',
        'EMPTY': '',
        'deploy_token': '[REDACTED]',
    }


def test_empty_redact_returns_secrets(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, json={'env': JOB_ENV})

    (env,) = run_lookup([JOB_ID], redact=[], **connected(token))

    assert env == JOB_ENV


def test_custom_redact_replaces_default_list(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, json={'env': JOB_ENV})

    (env,) = run_lookup([JOB_ID], redact=['BUILDKITE_*'], **connected(token))

    assert env['BUILDKITE_BRANCH'] == '[REDACTED]'
    assert env['DATABASE_PASSWORD'] == 'hunter2-hunter2'


def test_variable_names_select_variables(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, json={'env': JOB_ENV})

    (env,) = run_lookup([JOB_ID], variable_names=['EMPTY', 'BUILDKITE_BRANCH'], **connected(token))

    assert env == {'EMPTY': '', 'BUILDKITE_BRANCH': 'main'}


def test_missing_variable_fails_by_default(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, json={'env': JOB_ENV})

    with pytest.raises(AnsibleError) as raised:
        run_lookup([JOB_ID], variable_names=['NOPE'], **connected(token))

    assert str(raised.value) == (
        'Failed to read the environment of job %s in acme: the environment has no variable NOPE; check the names '
        'in variable_names, or set on_missing to warn or skip' % JOB_ID
    )


def test_missing_variable_warns_and_is_left_out(api, clients, token, capsys):
    api.get(ORGANIZATION_ENV_URL, json={'env': JOB_ENV})

    (env,) = run_lookup([JOB_ID], variable_names=['NOPE', 'EMPTY'], on_missing='warn', **connected(token))

    assert env == {'EMPTY': ''}
    warning = unwrapped(capsys.readouterr().err)
    assert 'the environment of job %s in acme has no variable NOPE (on_missing=warn)' % JOB_ID in warning


def test_missing_variable_skipped_silently(api, clients, token, capsys):
    api.get(ORGANIZATION_ENV_URL, json={'env': JOB_ENV})

    (env,) = run_lookup([JOB_ID], variable_names=['NOPE'], on_missing='skip', **connected(token))

    assert env == {}
    assert 'NOPE' not in capsys.readouterr().err


def test_missing_job_fails_with_module_text(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, status=404, json={'message': 'No job found'})

    with pytest.raises(AnsibleError) as raised:
        run_lookup([JOB_ID], **connected(token))

    assert str(raised.value).startswith(
        'Failed to read the environment of job %s in acme: HTTP 404: No job found. Check organization' % JOB_ID
    )


def test_missing_job_gives_empty_dict_in_term_order(api, clients, token, capsys):
    api.get(ORGANIZATION_ENV_URL, status=404, json={'message': 'No job found'})
    api.get(BUILD_ENV_URL, json={'env': {'B': '2'}})

    result = run_lookup([JOB_ID, JOB_URL], on_missing='warn', **connected(token))

    assert result == [{}, {'B': '2'}]
    warning = unwrapped(capsys.readouterr().err)
    assert 'HTTP 404: No job found' in warning
    assert 'returning an empty dict (on_missing=warn)' in warning


def test_missing_job_skipped_silently(api, clients, token, capsys):
    api.get(ORGANIZATION_ENV_URL, status=404, json={'message': 'No job found'})

    assert run_lookup([JOB_ID], on_missing='skip', **connected(token)) == [{}]
    assert 'No job found' not in capsys.readouterr().err


def test_wrong_api_url_is_not_missing_job(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, status=404, json={'message': 'Not Found'})

    with pytest.raises(AnsibleError) as raised:
        run_lookup([JOB_ID], on_missing='skip', **connected(token))

    assert 'Check that api_url is the REST API base URL' in str(raised.value)


def test_wrong_organization_is_not_missing_job(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, status=404, json={'message': 'No organization found'})

    with pytest.raises(AnsibleError) as raised:
        run_lookup([JOB_ID], on_missing='skip', **connected(token))

    assert 'HTTP 404: No organization found' in str(raised.value)


def test_missing_scope_fails_even_with_skip(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, status=403, json={'message': "Your access token doesn't have the read_job_env scope"})

    with pytest.raises(AnsibleError) as raised:
        run_lookup([JOB_ID], on_missing='skip', **connected(token))

    assert str(raised.value) == (
        "Failed to read the environment of job %s in acme: HTTP 403: Your access token doesn't have the "
        'read_job_env scope. Create a token with the read_job_env scope at '
        'https://buildkite.com/user/api-access-tokens' % JOB_ID
    )
    assert clients[0].closed


def test_failure_stops_at_first_failing_term(api, clients, token):
    api.get(ORGANIZATION_ENV_URL, status=403, json={'message': 'Forbidden'})

    with pytest.raises(AnsibleError):
        run_lookup([JOB_ID, JOB_URL], **connected(token))

    assert len(api.calls) == 1


@pytest.mark.parametrize(
    'terms, options, message',
    [
        (['nope'], {}, 'term 1 must be a job UUID'),
        ([JOB_ID, 'https://buildkite.com/acme/web/builds/101'], {}, 'term 2 names a build but no job'),
        ([JOB_ID], {'organization': None}, 'organization is required for term 1'),
        ([JOB_URL], {'organization': 'globex'}, "organization is 'globex' (from the keyword argument organization)"),
        ([JOB_ID], {'api_token': ''}, 'api_token is required'),
        ([JOB_ID], {'api_url': 'ftp://example.com/v2'}, 'api_url must be an http(s) URL'),
        ([JOB_ID], {'timeout': 0}, 'timeout must be between'),
        ([JOB_ID], {'timeout': 'soon'}, "timeout must be a number such as 30, got 'soon'"),
        ([JOB_ID], {'timeout': [5]}, 'timeout must be a number such as 30, got [5]'),
        ([JOB_ID], {'api_retries': 'many'}, "api_retries must be a whole number such as 5, got 'many'"),
        ([JOB_ID], {'api_retries': 1.5}, 'api_retries must be a whole number such as 5, got 1.5'),
        ([JOB_ID], {'organization': ['acme']}, "organization must be a string, got ['acme']"),
        ([JOB_ID], {'api_token': {'token': 'x'}}, 'api_token must be a string, got a value of type dict'),
        ([JOB_ID], {'validate_certs': 2}, 'validate_certs must be a boolean such as true or false, got 2'),
        ([JOB_ID], {'validate_certs': 'maybe'}, "validate_certs must be a boolean such as true or false, got 'maybe'"),
        ([JOB_ID], {'ca_path': '/nonexistent/ca.pem'}, 'ca_path'),
        ([JOB_ID], {'redact': ['KEY_[']}, 'redact pattern'),
        ([JOB_ID], {'variable_names': ['A=B']}, 'variable_names must contain variable names'),
        ([JOB_ID], {'variable': ['A']}, 'unknown option variable; the options are api_retries, api_token'),
        ([JOB_ID], {'redcat': [], 'timout': 3}, 'unknown options redcat, timout'),
        ([JOB_ID], {'on_missing': 'ignore'}, "on_missing must be one of error, warn, skip, got 'ignore'"),
    ],
)
def test_bad_input_fails_before_any_request(api, clients, token, terms, options, message):
    arguments = connected(token)
    arguments.update(options)

    with pytest.raises(AnsibleError) as raised:
        run_lookup(terms, **arguments)

    assert message in str(raised.value)
    assert len(api.calls) == 0


@pytest.mark.parametrize('source', ['variable', 'environment'])
def test_non_boolean_validate_certs_rejected(api, clients, token, monkeypatch, source):
    variables = {'buildkite_api_token': token, 'buildkite_organization': 'acme'}
    if source == 'variable':
        variables['buildkite_validate_certs'] = 'nope'
    else:
        monkeypatch.setenv('BUILDKITE_VALIDATE_CERTS', 'nope')

    with pytest.raises(AnsibleError) as raised:
        run_lookup([JOB_ID], variables=variables)

    assert "validate_certs must be a boolean such as true or false, got 'nope'" in str(raised.value)
    assert len(api.calls) == 0


@pytest.mark.parametrize('value', ['false', 'no', 'off', '0'])
def test_false_validate_certs_text_is_accepted(api, clients, token, monkeypatch, value):
    monkeypatch.setenv('BUILDKITE_VALIDATE_CERTS', value)
    api.get(ORGANIZATION_ENV_URL, json={'env': {}})

    run_lookup([JOB_ID], **connected(token))

    assert clients[0].verify is False


def test_only_option_variables_are_templated(token):
    class UpperTemplar(object):
        def template(self, value):
            return value.upper()

    lookup = load()
    variables = {'buildkite_organization': 'acme', 'unrelated': 'left alone', 'buildkite_api_token': token}

    var_options = plugin_var_options(lookup, variables, UpperTemplar())

    assert var_options == {'buildkite_organization': 'ACME', 'buildkite_api_token': token.upper()}


def test_token_never_in_messages_or_verbose_output(api, clients, token, capsys, monkeypatch):
    monkeypatch.setattr(Display(), 'verbosity', 4)
    api.get(ORGANIZATION_ENV_URL, status=503, body='<html><title>Service Unavailable</title></html>')
    api.get(ORGANIZATION_ENV_URL, status=401, json={'message': 'Authentication required'})

    with pytest.raises(AnsibleError) as raised:
        run_lookup([JOB_ID], api_retries=1, **connected(token))

    captured = capsys.readouterr()
    out, err = unwrapped(captured.out), unwrapped(captured.err)
    assert 'HTTP 401: Authentication required' in str(raised.value)
    assert 'reading the environment of job %s in acme' % JOB_ID in out + err
    assert 'failed with HTTP 503; resending' in err
    assert token not in str(raised.value)
    assert token not in out
    assert token not in err
    assert clients[0].sleeps
