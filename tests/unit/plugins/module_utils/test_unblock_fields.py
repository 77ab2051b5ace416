# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Conversion of block-step field values from playbook types to the strings the API stores."""

from __future__ import annotations

import pytest

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteConfigError
from ansible_collections.opskite.buildkite.plugins.module_utils._unblock import (
    MAX_FIELD_VALUE,
    convert_fields,
    meta_data_differences,
)


def test_strings_pass_unchanged():
    assert convert_fields({'release-name': 'Flying Dolphin\nsecond line'}) == {
        'release-name': 'Flying Dolphin\nsecond line'
    }


def test_empty_string_is_kept():
    assert convert_fields({'note': ''}) == {'note': ''}


@pytest.mark.parametrize('value, expected', [(3, '3'), (-7, '-7'), (1.5, '1.5'), (0, '0')])
def test_numbers_become_decimal_text(value, expected):
    assert convert_fields({'replicas': value}) == {'replicas': expected}


def test_list_becomes_newline_joined():
    assert convert_fields({'regions': ['us-east-1', 'eu-west-1']}) == {'regions': 'us-east-1\neu-west-1'}


def test_list_of_numbers_is_joined():
    assert convert_fields({'shards': [1, 2]}) == {'shards': '1\n2'}


def test_empty_list_is_empty_string():
    assert convert_fields({'regions': []}) == {'regions': ''}


def test_none_fields_stay_none():
    assert convert_fields(None) is None


def test_empty_dict_is_empty():
    assert convert_fields({}) == {}


@pytest.mark.parametrize('value', [True, False])
def test_boolean_is_rejected(value):
    with pytest.raises(BuildkiteConfigError) as raised:
        convert_fields({'confirm': value})

    assert raised.value.option == 'fields'
    assert 'fields.confirm is a boolean' in str(raised.value)
    assert '"true"' in str(raised.value)


def test_null_is_rejected():
    with pytest.raises(BuildkiteConfigError) as raised:
        convert_fields({'release-name': None})

    assert 'fields.release-name has no value (null)' in str(raised.value)


def test_nested_dict_is_rejected():
    with pytest.raises(BuildkiteConfigError) as raised:
        convert_fields({'release': {'name': 'x'}})

    assert 'fields.release is a dict' in str(raised.value)


def test_list_with_nested_item_is_rejected():
    with pytest.raises(BuildkiteConfigError) as raised:
        convert_fields({'regions': ['us-east-1', ['eu-west-1']]})

    assert 'fields.regions is a list with an item of type list' in str(raised.value)


def test_list_with_boolean_item_is_rejected():
    with pytest.raises(BuildkiteConfigError) as raised:
        convert_fields({'regions': ['us-east-1', True]})

    assert 'fields.regions is a list with an item of type bool' in str(raised.value)


@pytest.mark.parametrize('key', ['', 'two words', 'key\n', 'ключ', 'a' * 101, 'a.b'])
def test_invalid_key_is_rejected(key):
    with pytest.raises(BuildkiteConfigError) as raised:
        convert_fields({key: 'value'})

    assert raised.value.option == 'fields'
    assert 'fields has the key' in str(raised.value)


@pytest.mark.parametrize('key', ['release-name', 'deploy/regions', 'REGION_1'])
def test_valid_keys_are_kept(key):
    assert convert_fields({key: 'x'}) == {key: 'x'}


def test_fields_that_are_not_a_dict_are_rejected():
    with pytest.raises(BuildkiteConfigError) as raised:
        convert_fields(['release-name'])

    assert 'fields must be a dict' in str(raised.value)


def test_huge_value_is_rejected():
    with pytest.raises(BuildkiteConfigError) as raised:
        convert_fields({'note': 'x' * (MAX_FIELD_VALUE + 1)})

    assert 'fields.note is %d characters long' % (MAX_FIELD_VALUE + 1) in str(raised.value)


def test_nul_character_is_rejected():
    with pytest.raises(BuildkiteConfigError) as raised:
        convert_fields({'note': 'a\x00b'})

    assert 'fields.note contains a NUL character' in str(raised.value)


def test_meta_data_differences_lists_changed_and_missing():
    differences = meta_data_differences(
        {'release-name': 'v2', 'regions': 'us-east-1', 'note': 'same'},
        {'release-name': 'v1', 'note': 'same'},
    )

    assert differences == [
        "regions is None in the build's meta-data, not 'us-east-1'",
        "release-name is 'v1' in the build's meta-data, not 'v2'",
    ]


def test_meta_data_differences_empty_when_equal():
    assert meta_data_differences({'release-name': 'v1'}, {'release-name': 'v1', 'other': 'x'}) == []
