# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the shared options: argument specs, validation messages and the client they build."""

from __future__ import annotations

import math

import pytest
import responses

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteClient, BuildkiteConfigError
from ansible_collections.opskite.buildkite.plugins.module_utils._options import (
    CONNECTION_ARGSPEC,
    DEFAULT_API_URL,
    JOB_TARGET_ARGSPEC,
    client_from_options,
    connection_argspec,
    validate_api_token,
    validate_api_url,
    validate_number,
)

JOB_PATH = '/organizations/acme/jobs/0198c2a4-1f3e-7b21-9d4a-3c5e7f9a0b11'


def options_with(**changes):
    """Return the shared options with a module's default values, updated with ``changes``."""
    options = {
        'api_token': 'bkua_6f0c9a3e2b7d4c1f8e5a0b9c3d2e1f4a5b6c7d8e',
        'api_url': DEFAULT_API_URL,
        'validate_certs': True,
        'ca_path': None,
        'timeout': 30.0,
        'api_retries': 5,
        'organization': 'acme',
    }
    options.update(changes)
    return options


def config_error(function, *args, **kwargs):
    with pytest.raises(BuildkiteConfigError) as raised:
        function(*args, **kwargs)
    return raised.value


# Argument specs


def test_argspec_hides_api_token():
    assert CONNECTION_ARGSPEC['api_token']['no_log'] is True


@pytest.mark.parametrize(
    'option, variable',
    [
        ('api_token', 'BUILDKITE_API_TOKEN'),
        ('api_url', 'BUILDKITE_API_URL'),
        ('organization', 'BUILDKITE_ORGANIZATION_SLUG'),
    ],
)
def test_argspec_reads_environment_fallback(option, variable):
    assert CONNECTION_ARGSPEC[option]['fallback'][1] == [variable]


@pytest.mark.parametrize(
    'option, default',
    [
        ('api_url', 'https://api.buildkite.com/v2'),
        ('validate_certs', True),
        ('timeout', 30),
        ('api_retries', 5),
    ],
)
def test_argspec_defaults(option, default):
    assert CONNECTION_ARGSPEC[option]['default'] == default


@pytest.mark.parametrize('option', ['pipeline', 'build'])
def test_pipeline_and_build_have_no_environment_fallback(option):
    # Inside a Buildkite job, BUILDKITE_PIPELINE_SLUG and BUILDKITE_BUILD_NUMBER name the running build.
    assert 'fallback' not in JOB_TARGET_ARGSPEC[option]


def test_job_option_has_job_id_alias():
    assert JOB_TARGET_ARGSPEC['job']['aliases'] == ['job_id']


def test_connection_argspec_combines_specs_and_extra_options():
    spec = connection_argspec(wait=dict(type='bool', default=False))

    assert set(spec) == set(CONNECTION_ARGSPEC) | set(JOB_TARGET_ARGSPEC) | {'wait'}


def test_connection_argspec_returns_fresh_copy():
    spec = connection_argspec()
    spec['timeout']['default'] = 1

    assert CONNECTION_ARGSPEC['timeout']['default'] == 30


# api_token


@pytest.mark.parametrize('value', ['bkua_6f0c9a3e2b7d\n', '  bkua_6f0c9a3e2b7d  ', '\tbkua_6f0c9a3e2b7d\r\n'])
def test_token_surrounding_whitespace_is_stripped(value):
    assert validate_api_token(value) == 'bkua_6f0c9a3e2b7d'


@pytest.mark.parametrize('value', [None, '', '   ', '\n'])
def test_empty_token_is_rejected(value):
    error = config_error(validate_api_token, value)

    assert error.option == 'api_token'
    assert str(error) == (
        'api_token is required: set the api_token option or the BUILDKITE_API_TOKEN environment '
        'variable to a Buildkite API access token'
    )


@pytest.mark.parametrize('value', ['Bearer bkua_6f0c9a3e2b7d', 'bkua_6f0c 9a3e2b7d'])
def test_token_with_spaces_is_rejected(value):
    error = config_error(validate_api_token, value)

    assert error.option == 'api_token'
    assert str(error) == (
        'api_token contains spaces or control characters inside it; paste the token alone, '
        'without quotes or a "Bearer" prefix'
    )


@pytest.mark.parametrize(
    'value', ['bkua_6f0c\t9a3e', 'bkua_6f0c\n9a3e', 'bkua_6f0c\x009a3e', 'bkua_6f0c\x1b9a3e', 'bkua_6f0c\x7f9a3e']
)
def test_token_with_control_characters_is_rejected(value):
    error = config_error(validate_api_token, value)

    assert error.option == 'api_token'
    assert 'control characters' in str(error)


@pytest.mark.parametrize('value', ['\u201cbkua_6f0c9a3e2b7d\u201d', 'bkua_6f0c\u00a09a3e', 'bkua_6f0c\u20ac9a3e'])
def test_token_with_non_ascii_characters_is_rejected(value):
    # http.client raises UnicodeEncodeError, which is no BuildkiteError, for characters beyond Latin-1, and
    # sends the others as raw bytes. Typographic quotes come with a token pasted from a document.
    error = config_error(validate_api_token, value)

    assert error.option == 'api_token'


def test_token_longer_than_any_token_is_rejected():
    value = 'bkua_' + 'a' * 5000

    error = config_error(validate_api_token, value)

    assert error.option == 'api_token'
    assert 'api_token is 5005 characters long' in str(error)
    assert value not in str(error)


# api_url


@pytest.mark.parametrize('value', ['https://\u00e1pi.buildkite.com/v2', 'https://api.buildkite.com/v2/caf\u00e9'])
def test_api_url_with_non_ascii_characters_is_rejected(value):
    # requests would look the host name up in DNS, a request of its own, before any check.
    error = config_error(validate_api_url, value)

    assert error.option == 'api_url'
    assert 'outside ASCII' in str(error)


@pytest.mark.parametrize('value', ['https://%s.example/v2' % ('a' * 64), 'https://%s/v2' % '.'.join(['abc'] * 64)])
def test_api_url_with_overlong_host_name_is_rejected(value):
    # urllib3 raises LocationParseError for these, which is not a requests exception.
    error = config_error(validate_api_url, value)

    assert error.option == 'api_url'
    assert 'invalid host name' in str(error)


def test_api_url_host_label_of_63_characters_is_accepted():
    value = 'https://%s.example/v2' % ('a' * 63)

    assert validate_api_url(value) == value


def test_api_url_is_returned_without_trailing_slash():
    assert validate_api_url('https://api.buildkite.com/v2/') == 'https://api.buildkite.com/v2'


def test_api_url_surrounding_whitespace_is_stripped():
    assert validate_api_url('  https://api.buildkite.com/v2\n') == 'https://api.buildkite.com/v2'


@pytest.mark.parametrize('value', [None, '', '   '])
def test_empty_api_url_is_rejected(value):
    error = config_error(validate_api_url, value)

    assert error.option == 'api_url'
    assert str(error) == 'api_url must not be empty; the default is https://api.buildkite.com/v2'


@pytest.mark.parametrize('value', ['ftp://api.buildkite.com/v2', 'api.buildkite.com/v2', 'https://', 'file:///v2'])
def test_api_url_not_http_is_rejected(value):
    error = config_error(validate_api_url, value)

    assert error.option == 'api_url'
    assert str(error) == 'api_url must be an http(s) URL such as https://api.buildkite.com/v2, got %r' % value


@pytest.mark.parametrize('value', ['https://api.buildkite.com/v 2', 'https://api.buildkite.com/v2\x00'])
def test_api_url_with_spaces_is_rejected(value):
    error = config_error(validate_api_url, value)

    assert error.option == 'api_url'
    assert 'spaces or control characters' in str(error)


@pytest.mark.parametrize(
    'value',
    [
        'https://dana:secret@api.buildkite.com/v2',
        'https://bkua_6f0c9a3e@api.buildkite.com/v2',
        'https://:secret@api.buildkite.com/v2',
    ],
)
def test_api_url_with_credentials_is_rejected(value):
    error = config_error(validate_api_url, value)

    assert error.option == 'api_url'
    assert str(error) == (
        'api_url must not contain credentials; give the token in api_token or BUILDKITE_API_TOKEN instead'
    )


@pytest.mark.parametrize('value', ['https://api.buildkite.com/v2?per_page=100', 'https://api.buildkite.com/v2#jobs'])
def test_api_url_with_query_or_fragment_is_rejected(value):
    error = config_error(validate_api_url, value)

    assert error.option == 'api_url'
    assert str(error) == (
        'api_url must not contain a query or fragment; give the base URL such as https://api.buildkite.com/v2'
    )


@pytest.mark.parametrize(
    'value',
    ['https://api.buildkite.com:99999/v2', 'https://api.buildkite.com:https/v2', 'https://api.buildkite.com:-1/v2'],
)
def test_api_url_with_invalid_port_is_rejected(value):
    error = config_error(validate_api_url, value)

    assert error.option == 'api_url'
    assert str(error) == 'api_url has an invalid port: %r' % value


@pytest.mark.parametrize(
    'value',
    [
        'http://api.buildkite.com/v2',
        'http://10.0.0.5:8080/v2',
        'http://localhost.example/v2',
        'http://127.0.0.1.nip.io/v2',
    ],
)
def test_api_url_http_to_remote_host_is_rejected(value):
    error = config_error(validate_api_url, value)

    assert error.option == 'api_url'
    assert 'use https://, or set validate_certs=false' in str(error)


def test_api_url_http_rejection_names_host():
    error = config_error(validate_api_url, 'http://buildkite-proxy.internal:8080/v2')

    assert str(error) == (
        'api_url uses plain http:// for buildkite-proxy.internal, which would send the token '
        'unencrypted; use https://, or set validate_certs=false if you really mean it'
    )


@pytest.mark.parametrize(
    'value',
    [
        'http://127.0.0.1:8080/v2',
        'http://[::1]:8080/v2',
        'http://localhost:8080/v2',
        'http://LOCALHOST/v2',
        'http://127.0.0.2/v2',
    ],
)
def test_api_url_http_to_loopback_is_allowed(value):
    assert validate_api_url(value) == value


def test_http_remote_allowed_without_validate_certs():
    value = 'http://buildkite-proxy.internal:8080/v2'

    assert validate_api_url(value, validate_certs=False) == value


# timeout and api_retries


@pytest.mark.parametrize('value', [0, -1, 0.0009, 3600.5, None, math.nan, math.inf])
def test_timeout_out_of_range_is_rejected(value):
    error = config_error(validate_number, 'timeout', value, 0.001, 3600, 'seconds')

    assert error.option == 'timeout'
    assert str(error) == 'timeout must be between 0.001 and 3600 seconds, got %r' % (value,)


@pytest.mark.parametrize('value', [-1, 21, None])
def test_api_retries_out_of_range_is_rejected(value):
    error = config_error(validate_number, 'api_retries', value, 0, 20, 'resends')

    assert error.option == 'api_retries'
    assert str(error) == 'api_retries must be between 0 and 20 resends, got %r' % (value,)


@pytest.mark.parametrize(
    'option, value', [('timeout', 0.001), ('timeout', 3600), ('api_retries', 0), ('api_retries', 20)]
)
def test_range_limits_are_accepted(option, value):
    client = client_from_options(options_with(**{option: value}))

    assert getattr(client, option) == value


@pytest.mark.parametrize(
    'option, value, fragment',
    [
        ('api_token', '', 'api_token is required'),
        ('api_url', 'ftp://api.buildkite.com/v2', 'api_url must be an http(s) URL'),
        ('timeout', 0, 'timeout must be between 0.001 and 3600 seconds'),
        ('api_retries', 21, 'api_retries must be between 0 and 20 resends'),
    ],
)
def test_client_from_options_names_invalid_option(option, value, fragment):
    error = config_error(client_from_options, options_with(**{option: value}))

    assert error.option == option
    assert fragment in str(error)


@pytest.mark.parametrize('value', ['', '   '])
def test_empty_ca_path_is_rejected(value):
    error = config_error(client_from_options, options_with(ca_path=value))

    assert error.option == 'ca_path'
    assert 'ca_path is empty' in str(error)


# The client that client_from_options builds


def test_client_from_options_returns_client():
    client = client_from_options(options_with())

    assert isinstance(client, BuildkiteClient)
    assert client.api_url == 'https://api.buildkite.com/v2'
    assert client.timeout == 30.0
    assert client.api_retries == 5


def test_client_from_options_defaults_missing_api_url():
    client = client_from_options(options_with(api_url=None))

    assert client.api_url == 'https://api.buildkite.com/v2'


def test_client_sends_stripped_token():
    with responses.RequestsMock() as api:
        api.add(responses.GET, 'https://api.buildkite.com/v2' + JOB_PATH, json={'id': 'x'})
        client = client_from_options(options_with(api_token='bkua_6f0c9a3e2b7d\n'))

        client.get_json(JOB_PATH)

        assert api.calls[0].request.headers['Authorization'] == 'Bearer bkua_6f0c9a3e2b7d'


def test_client_uses_validated_api_url():
    with responses.RequestsMock() as api:
        api.add(responses.GET, 'http://127.0.0.1:8080/v2' + JOB_PATH, json={'id': 'x'})
        client = client_from_options(options_with(api_url=' http://127.0.0.1:8080/v2/ '))

        client.get_json(JOB_PATH)

        assert api.calls[0].request.url == 'http://127.0.0.1:8080/v2' + JOB_PATH


def test_client_from_options_passes_overrides():
    delays = []
    client = client_from_options(options_with(), sleep=delays.append, clock=lambda: 5.0, jitter=lambda: 0.0)

    client.pause(1.5)

    assert delays == [1.5]
    assert client.clock() == 5.0


def test_client_from_options_passes_warn_callback():
    warnings_sent = []
    client = client_from_options(options_with(), warn=warnings_sent.append)

    client.warn('resending')

    assert warnings_sent == ['opskite.buildkite: resending']


# Certificate verification, as the transport adapter receives it for each request. requests lets
# REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE override a session's ``verify`` unless the request sets it.

CA_BUNDLE_VARIABLES = ('REQUESTS_CA_BUNDLE', 'CURL_CA_BUNDLE')
SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'


@pytest.fixture
def without_ca_bundle_variables(monkeypatch):
    for variable in CA_BUNDLE_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def with_ca_bundle_variable(monkeypatch):
    monkeypatch.delenv('CURL_CA_BUNDLE', raising=False)
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', SYSTEM_CA_BUNDLE)


def verify_sent(options):
    """Send one request with a client built from ``options`` and return the ``verify`` the adapter received."""
    with responses.RequestsMock() as api:
        api.add(responses.GET, 'https://api.buildkite.com/v2' + JOB_PATH, json={'id': 'x'})
        client_from_options(options).get_json(JOB_PATH)
        return api.calls[0].request.req_kwargs['verify']


@pytest.mark.usefixtures('without_ca_bundle_variables')
@pytest.mark.parametrize('validate_certs', [True, None])
def test_certificates_are_verified_by_default(validate_certs):
    assert verify_sent(options_with(validate_certs=validate_certs)) is True


@pytest.mark.usefixtures('without_ca_bundle_variables')
def test_validate_certs_false_skips_verification():
    assert verify_sent(options_with(validate_certs=False)) is False


@pytest.mark.usefixtures('without_ca_bundle_variables')
def test_ca_path_is_the_ca_bundle(tmp_path):
    ca_path = tmp_path / 'acme-ca.pem'
    ca_path.write_text('', encoding='utf-8')

    assert verify_sent(options_with(ca_path=str(ca_path))) == str(ca_path)


@pytest.mark.usefixtures('without_ca_bundle_variables')
def test_validate_certs_false_wins_over_ca_path(tmp_path):
    # ansible.builtin.uri skips verification with validate_certs=false whatever CA bundle is set,
    # for example by module_defaults.
    ca_path = tmp_path / 'acme-ca.pem'
    ca_path.write_text('', encoding='utf-8')

    assert verify_sent(options_with(validate_certs=False, ca_path=str(ca_path))) is False


@pytest.mark.usefixtures('with_ca_bundle_variable')
def test_validate_certs_false_wins_over_ca_bundle_variable():
    assert verify_sent(options_with(validate_certs=False)) is False


@pytest.mark.usefixtures('with_ca_bundle_variable')
def test_ca_path_wins_over_ca_bundle_variable(tmp_path):
    ca_path = tmp_path / 'acme-ca.pem'
    ca_path.write_text('', encoding='utf-8')

    assert verify_sent(options_with(ca_path=str(ca_path))) == str(ca_path)


@pytest.mark.usefixtures('with_ca_bundle_variable')
def test_ca_bundle_variable_applies_without_ca_path():
    assert verify_sent(options_with()) == SYSTEM_CA_BUNDLE


def test_missing_ca_path_is_rejected(tmp_path):
    # requests raises a bare OSError for a missing CA bundle only when the first HTTPS request is sent.
    error = config_error(client_from_options, options_with(ca_path=str(tmp_path / 'missing-ca.pem')))

    assert error.option == 'ca_path'


# The token must not leak through option validation messages.


@pytest.mark.parametrize(
    'template',
    [
        'Bearer {token}',
        '{token} extra',
        '{token}\x00',
    ],
)
def test_token_absent_from_api_token_errors(token, template):
    error = config_error(validate_api_token, template.format(token=token))

    assert token not in str(error)
    assert token not in repr(error)


@pytest.mark.parametrize(
    'template',
    [
        'https://{token}@api.buildkite.com/v2',
        'https://dana:{token}@api.buildkite.com/v2',
        'https://api.buildkite.com/v2?access_token={token}',
        'https://api.buildkite.com/v2#{token}',
        'htps://dana:{token}@api.buildkite.com/v2',
        'http://dana:{token}@buildkite-proxy.internal/v2',
    ],
)
def test_token_absent_from_api_url_errors(token, template):
    error = config_error(validate_api_url, template.format(token=token))

    assert token not in str(error)
    assert token not in repr(error)
