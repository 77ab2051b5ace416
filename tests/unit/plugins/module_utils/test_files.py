# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tests of the checks of dest and the file attribute options, which run before any request."""

from __future__ import annotations

import grp
import os
import pwd

import pytest

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteConfigError
from ansible_collections.opskite.buildkite.plugins.module_utils._files import validate_file_options


def file_options(tmp_path, **changes):
    options = {'dest': str(tmp_path / 'job.log'), 'mode': None, 'owner': None, 'group': None, 'attributes': None}
    options.update(changes)
    return options


def config_error(options):
    with pytest.raises(BuildkiteConfigError) as raised:
        validate_file_options(options)
    return raised.value


def test_valid_options_return_absolute_dest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    options = file_options(
        tmp_path,
        dest='job.log',
        mode='u=rw,g=r,o=r',
        owner=pwd.getpwuid(os.getuid()).pw_name,
        group=grp.getgrgid(os.getgid()).gr_name,
        attributes='+i',
    )

    assert validate_file_options(options) == str(tmp_path / 'job.log')


@pytest.mark.parametrize('mode', ['0644', '644', 0o600, '1777'])
def test_octal_modes_are_accepted(tmp_path, mode):
    validate_file_options(file_options(tmp_path, mode=mode))


@pytest.mark.parametrize('owner, group', [('0', '0'), (0, 0)])
def test_numeric_owner_and_group_pass_unchecked(tmp_path, owner, group):
    validate_file_options(file_options(tmp_path, owner=owner, group=group))


@pytest.mark.parametrize(
    'changes, option, fragment',
    [
        ({'dest': ''}, 'dest', 'dest is empty'),
        ({'dest': '  '}, 'dest', 'dest is empty'),
        ({'dest': '/tmp/job\x00.log'}, 'dest', 'NUL'),
        ({'dest': '/'}, 'dest', 'is a directory'),
        ({'dest': '/nonexistent/opskite/job.log'}, 'dest', 'does not exist; create it first'),
        ({'mode': 'abc'}, 'mode', 'mode must be in octal form'),
        ({'mode': 'u+q'}, 'mode', 'mode must be in octal form'),
        ({'mode': '99999'}, 'mode', 'mode must be in octal form'),
        ({'mode': '77777'}, 'mode', 'bits beyond the permission bits'),
        ({'owner': 'opskite-no-such-user'}, 'owner', "owner 'opskite-no-such-user' is not a user on this host"),
        ({'owner': 'ro\x00ot'}, 'owner', 'is not a user on this host'),
        ({'group': 'opskite-no-such-group'}, 'group', "group 'opskite-no-such-group' is not a group on this host"),
        ({'attributes': '+Q'}, 'attributes', "contains 'Q', which is not a file attribute"),
        ({'attributes': 'not attributes'}, 'attributes', 'which are not a file attribute'),
    ],
)
def test_bad_file_options_name_the_option(tmp_path, changes, option, fragment):
    error = config_error(file_options(tmp_path, **changes))

    assert error.option == option
    assert fragment in str(error)
