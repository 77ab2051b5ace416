# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Block-step form fields: conversion of the values a playbook gives to what the API stores."""

from __future__ import annotations

import re

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteConfigError

# Block step field keys: alphanumerics, '-', '_' and '/' (Buildkite docs, block step "key").
FIELD_KEY_PATTERN = re.compile(r'^[A-Za-z0-9_/-]{1,100}$')
MAX_FIELD_VALUE = 65536


def field_value(key, value):
    """Return the string the API stores for one field value, or raise naming the field.

    Strings pass unchanged, and ints and floats become their decimal text. A list, for a
    multi-select field, becomes its items joined with newlines, which is how Buildkite stores a
    multi-select value in the build's meta-data.
    """
    option = 'fields.%s' % key
    if isinstance(value, bool):
        raise BuildkiteConfigError(
            'fields', '%s is a boolean; give the option value the step expects as a string, for example "true"' % option
        )
    if value is None:
        raise BuildkiteConfigError('fields', '%s has no value (null); give a string, or leave the field out' % option)
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise BuildkiteConfigError(
                    'fields',
                    '%s is a list with an item of type %s; a multi-select field takes a list of strings'
                    % (option, type(item).__name__),
                )
            items.append(str(item))
        text = '\n'.join(items)
    else:
        raise BuildkiteConfigError(
            'fields',
            '%s is a %s; a field takes a string, a number, or a list of strings for a multi-select field'
            % (option, type(value).__name__),
        )
    if len(text) > MAX_FIELD_VALUE:
        raise BuildkiteConfigError(
            'fields', '%s is %d characters long; the limit is %d' % (option, len(text), MAX_FIELD_VALUE)
        )
    if '\x00' in text:
        raise BuildkiteConfigError('fields', '%s contains a NUL character' % option)
    return text


def convert_fields(fields):
    """Validate the ``fields`` option and return it as a dict of strings (None stays None)."""
    if fields is None:
        return None
    if not isinstance(fields, dict):
        raise BuildkiteConfigError(
            'fields', 'fields must be a dict of field keys to values, got %s' % type(fields).__name__
        )
    converted = {}
    for key, value in fields.items():
        if not isinstance(key, str) or not FIELD_KEY_PATTERN.fullmatch(key):
            raise BuildkiteConfigError(
                'fields',
                'fields has the key %r; a field key is the "key" of a block step field: letters, digits, '
                '"-", "_" and "/"' % (key,),
            )
        converted[key] = field_value(key, value)
    return converted


def meta_data_differences(requested, meta_data):
    """Return the requested fields whose value differs from the build's meta-data, as messages."""
    differences = []
    for key in sorted(requested or {}):
        stored = (meta_data or {}).get(key)
        if stored != requested[key]:
            differences.append('%s is %r in the build\'s meta-data, not %r' % (key, stored, requested[key]))
    return differences
