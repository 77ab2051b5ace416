# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared options: the argument specs every module uses, and their validation.

Validation raises BuildkiteConfigError naming the option, so modules and the lookup report
bad input the same way and before any request is sent.
"""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteClient, BuildkiteConfigError

DEFAULT_API_URL = 'https://api.buildkite.com/v2'
MAX_TIMEOUT = 3600
MAX_API_RETRIES = 20
# Buildkite API access tokens are tens of characters long, so a longer value is a pasted file, not a token.
MAX_TOKEN_LENGTH = 1024
MAX_HOST_LENGTH = 253
MAX_HOST_LABEL_LENGTH = 63

CONNECTION_ARGSPEC = dict(
    api_token=dict(type='str', no_log=True, fallback=(env_fallback, ['BUILDKITE_API_TOKEN'])),
    api_url=dict(type='str', fallback=(env_fallback, ['BUILDKITE_API_URL']), default=DEFAULT_API_URL),
    validate_certs=dict(type='bool', default=True),
    ca_path=dict(type='path'),
    timeout=dict(type='float', default=30),
    api_retries=dict(type='int', default=5),
    organization=dict(type='str', fallback=(env_fallback, ['BUILDKITE_ORGANIZATION_SLUG'])),
)

# pipeline and build have no environment fallback on purpose: inside a Buildkite job the
# BUILDKITE_PIPELINE_SLUG and BUILDKITE_BUILD_NUMBER variables name the running build, and a
# playbook would address it by accident.
JOB_TARGET_ARGSPEC = dict(
    job=dict(type='str', aliases=['job_id']),
    step_key=dict(type='str', no_log=False),
    url=dict(type='str'),
    pipeline=dict(type='str'),
    build=dict(type='int'),
)

# Options of the modules that wait for a job, and their limits: a week, and a poll at most every
# 0.1 s and at least every hour.
WAIT_ARGSPEC = dict(
    wait_timeout=dict(type='float', default=3600),
    poll_interval=dict(type='float', default=5),
)
MAX_WAIT = 7 * 24 * 3600
MIN_POLL_INTERVAL = 0.1
MAX_POLL_INTERVAL = 3600

JOB_TARGET_MUTUALLY_EXCLUSIVE = [('job', 'step_key')]
JOB_TARGET_REQUIRED_ONE_OF = [('job', 'step_key', 'url')]

CONTROL_CHARACTERS = re.compile(r'[\x00-\x1f\x7f]')


def connection_argspec(**extra):
    """Return a fresh copy of the connection and job-target specs, updated with ``extra``."""
    spec = dict((name, dict(value)) for name, value in CONNECTION_ARGSPEC.items())
    spec.update((name, dict(value)) for name, value in JOB_TARGET_ARGSPEC.items())
    spec.update(extra)
    return spec


def is_loopback_host(host):
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_api_token(value):
    token = (value or '').strip()
    if not token:
        raise BuildkiteConfigError(
            'api_token',
            'api_token is required: set the api_token option or the BUILDKITE_API_TOKEN environment '
            'variable to a Buildkite API access token',
        )
    if CONTROL_CHARACTERS.search(token) or ' ' in token:
        raise BuildkiteConfigError(
            'api_token',
            'api_token contains spaces or control characters inside it; paste the token alone, '
            'without quotes or a "Bearer" prefix',
        )
    if not token.isascii():
        raise BuildkiteConfigError(
            'api_token',
            'api_token contains characters outside ASCII, such as typographic quotes; paste the token '
            'alone, as Buildkite shows it',
        )
    if len(token) > MAX_TOKEN_LENGTH:
        raise BuildkiteConfigError(
            'api_token',
            'api_token is %d characters long, far longer than a Buildkite API access token; paste the token '
            'alone, not a file or a list of tokens' % len(token),
        )
    return token


def validate_api_url(value, validate_certs=True):
    text = (value or '').strip()
    if not text:
        raise BuildkiteConfigError('api_url', 'api_url must not be empty; the default is %s' % DEFAULT_API_URL)
    if CONTROL_CHARACTERS.search(text) or ' ' in text:
        raise BuildkiteConfigError(
            'api_url', 'api_url contains spaces or control characters; give a URL such as %s' % DEFAULT_API_URL
        )
    parts = urlsplit(text)
    # Checked first, so that no later message prints the credentials back.
    if '@' in parts.netloc:
        raise BuildkiteConfigError(
            'api_url',
            'api_url must not contain credentials; give the token in api_token or BUILDKITE_API_TOKEN instead',
        )
    if not text.isascii():
        raise BuildkiteConfigError(
            'api_url',
            'api_url contains characters outside ASCII; give an internationalized host name in its ASCII '
            '(xn--) form and percent-encode the path, got %r' % text,
        )
    if parts.scheme not in ('http', 'https') or not parts.netloc:
        raise BuildkiteConfigError(
            'api_url', 'api_url must be an http(s) URL such as %s, got %r' % (DEFAULT_API_URL, text)
        )
    if parts.query or parts.fragment:
        raise BuildkiteConfigError(
            'api_url', 'api_url must not contain a query or fragment; give the base URL such as %s' % DEFAULT_API_URL
        )
    try:
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise BuildkiteConfigError('api_url', 'api_url has an invalid port: %r' % text)
    if not host or port == 0:
        raise BuildkiteConfigError('api_url', 'api_url has no host name or port: %r' % text)
    # DNS limits (RFC 1035): urllib3 raises its own parse error, outside requests' exceptions, for longer names.
    if len(host) > MAX_HOST_LENGTH or any(len(label) > MAX_HOST_LABEL_LENGTH for label in host.split('.')):
        raise BuildkiteConfigError(
            'api_url',
            'api_url has an invalid host name: a host name has at most %d characters and labels of at most %d '
            'between its dots; give a URL such as %s' % (MAX_HOST_LENGTH, MAX_HOST_LABEL_LENGTH, DEFAULT_API_URL),
        )
    if parts.scheme == 'http' and validate_certs and not is_loopback_host(host):
        raise BuildkiteConfigError(
            'api_url',
            'api_url uses plain http:// for %s, which would send the token unencrypted; use https://, '
            'or set validate_certs=false if you really mean it' % host,
        )
    return text.rstrip('/')


def validate_number(option, value, minimum, maximum, unit):
    if value is None or not minimum <= value <= maximum:
        raise BuildkiteConfigError(
            option, '%s must be between %s and %s %s, got %r' % (option, minimum, maximum, unit, value)
        )
    return value


def validate_wait(options):
    """Check wait_timeout and poll_interval, raising BuildkiteConfigError naming the option."""
    validate_number('wait_timeout', options.get('wait_timeout'), 0, MAX_WAIT, 'seconds')
    validate_number('poll_interval', options.get('poll_interval'), MIN_POLL_INTERVAL, MAX_POLL_INTERVAL, 'seconds')


def client_from_options(options, warn=None, **overrides):
    """Validate the connection options and return a BuildkiteClient for them."""
    token = validate_api_token(options.get('api_token'))
    validate_certs = options.get('validate_certs')
    if validate_certs is None:
        validate_certs = True
    api_url = options.get('api_url')
    api_url = validate_api_url(DEFAULT_API_URL if api_url is None else api_url, validate_certs)
    timeout = validate_number('timeout', options.get('timeout'), 0.001, MAX_TIMEOUT, 'seconds')
    api_retries = validate_number('api_retries', options.get('api_retries'), 0, MAX_API_RETRIES, 'resends')
    ca_path = options.get('ca_path')
    if ca_path is not None and not str(ca_path).strip():
        raise BuildkiteConfigError(
            'ca_path', 'ca_path is empty; give the path of a PEM file with CA certificates, or leave ca_path out'
        )
    if ca_path and not os.path.isfile(ca_path):
        raise BuildkiteConfigError(
            'ca_path', 'ca_path %r is not a file; give the path of a PEM file with CA certificates' % ca_path
        )
    return BuildkiteClient(
        token,
        api_url,
        validate_certs=validate_certs,
        ca_path=ca_path,
        timeout=timeout,
        api_retries=api_retries,
        warn=warn,
        **overrides,
    )
