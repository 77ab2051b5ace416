# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # Connection options shared by every module and the lookup.
    DOCUMENTATION = r'''
options:
  api_token:
    description:
      - A Buildkite API access token, sent in the C(Authorization) header as a bearer token, to the host of
        O(api_url) only.
      - Surrounding whitespace, such as a trailing newline from a file, is removed.
      - Each plugin lists the token scopes it needs in its notes.
      - Modules read E(BUILDKITE_API_TOKEN) when this option is not set.
    type: str
  api_url:
    description:
      - Base URL of the Buildkite REST API, including the C(/v2) path. A trailing slash is harmless.
      - Plain C(http://) is accepted only for loopback hosts, unless O(validate_certs=false).
      - The URL must not contain credentials, a query or a fragment.
      - Modules read E(BUILDKITE_API_URL) when this option is not set.
    type: str
    default: https://api.buildkite.com/v2
  validate_certs:
    description:
      - Whether to verify the API's TLS certificate.
    type: bool
    default: true
  ca_path:
    description:
      - Path of a PEM file with the CA certificates used to verify the API's TLS certificate,
        for example a corporate proxy's CA.
    type: path
  timeout:
    description:
      - Seconds to wait for the connection and for each read of a response, per HTTP request.
    type: float
    default: 30
  api_retries:
    description:
      - How many times one request is sent again after HTTP 429, a server error or a connection failure.
      - After HTTP 429 the request waits for the rate limit to reset (C(RateLimit-Reset)); after server errors
        and connection failures, GET, HEAD and DELETE wait with a jittered exponential backoff.
      - A retry or unblock request whose outcome is unknown is never sent again blindly; the job is read
        first to find out whether the change was applied.
    type: int
    default: 5
  organization:
    description:
      - Slug of the Buildkite organization, as in C(https://buildkite.com/<organization>).
      - Modules read E(BUILDKITE_ORGANIZATION_SLUG) when this option is not set, so inside a Buildkite job the
        job's own organization is the default.
    type: str
'''

    # Where the lookup plugin reads the connection options from, besides keyword arguments.
    PLUGINS = r'''
options:
  api_token:
    env:
      - name: BUILDKITE_API_TOKEN
    vars:
      - name: buildkite_api_token
    ini:
      - section: buildkite
        key: api_token
  api_url:
    env:
      - name: BUILDKITE_API_URL
    vars:
      - name: buildkite_api_url
    ini:
      - section: buildkite
        key: api_url
  validate_certs:
    env:
      - name: BUILDKITE_VALIDATE_CERTS
    vars:
      - name: buildkite_validate_certs
    ini:
      - section: buildkite
        key: validate_certs
  ca_path:
    env:
      - name: BUILDKITE_CA_PATH
    vars:
      - name: buildkite_ca_path
    ini:
      - section: buildkite
        key: ca_path
  timeout:
    env:
      - name: BUILDKITE_TIMEOUT
    vars:
      - name: buildkite_timeout
    ini:
      - section: buildkite
        key: timeout
  api_retries:
    env:
      - name: BUILDKITE_API_RETRIES
    vars:
      - name: buildkite_api_retries
    ini:
      - section: buildkite
        key: api_retries
  organization:
    env:
      - name: BUILDKITE_ORGANIZATION_SLUG
    vars:
      - name: buildkite_organization
    ini:
      - section: buildkite
        key: organization
'''
