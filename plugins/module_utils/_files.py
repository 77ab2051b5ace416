# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Checks of a file destination and its attributes, made before a module sends any request.

AnsibleModule applies mode, owner, group and attributes only after the file is written, so a
typo there would fail after the log was downloaded. These checks reject the same values first.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.file import FILE_ATTRIBUTES

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteConfigError


def validate_dest(dest):
    """Check that ``dest`` names a file whose directory exists, and return its absolute path."""
    if not dest or not dest.strip():
        raise BuildkiteConfigError('dest', 'dest is empty; give the path of the file to write, or leave dest out')
    if '\x00' in dest:
        raise BuildkiteConfigError('dest', 'dest contains a NUL character; give the path of the file to write')
    if os.path.isdir(dest):
        raise BuildkiteConfigError('dest', 'dest %s is a directory; give the path of a file' % dest)
    parent = os.path.dirname(os.path.abspath(dest))
    if not os.path.isdir(parent):
        raise BuildkiteConfigError('dest', 'the directory of dest, %s, does not exist; create it first' % parent)
    return os.path.abspath(dest)


def validate_mode(mode, directory):
    """Check ``mode`` as AnsibleModule will: octal digits, an int, or chmod's symbolic form."""
    if mode is None:
        return
    value = mode
    if not isinstance(value, int):
        try:
            value = int(str(value), 8)
        except ValueError:
            try:
                # The result depends on the file's current mode; the directory's mode serves to parse it.
                value = AnsibleModule._symbolic_mode_to_octal(os.stat(directory), str(mode))
            except Exception:
                raise BuildkiteConfigError(
                    'mode',
                    'mode must be in octal form such as "0644" or symbolic form such as "u=rw,g=r,o=r", got %r'
                    % (mode,),
                )
    if isinstance(value, bool) or value != stat.S_IMODE(value):
        raise BuildkiteConfigError(
            'mode', 'mode %r has bits beyond the permission bits; give a mode such as "0644"' % (mode,)
        )


def validate_owner(option, name, lookup):
    """Check that the user or group ``name`` exists on this host; a number passes unchecked."""
    if name is None:
        return
    text = str(name)
    if text.isdigit():
        return
    try:
        lookup(text)
    except (KeyError, ValueError):
        kind = 'user' if option == 'owner' else 'group'
        raise BuildkiteConfigError(
            option,
            '%s %r is not a %s on this host; give an existing %s name or a numeric id' % (option, text, kind, kind),
        )


def validate_attributes(attributes):
    """Check that ``attributes`` is an optional "+", "-" or "=" and chattr's attribute letters."""
    if attributes is None:
        return
    letters = attributes[1:] if attributes[:1] in ('+', '-', '=') else attributes
    unknown = sorted(set(letters) - set(FILE_ATTRIBUTES))
    if unknown:
        raise BuildkiteConfigError(
            'attributes',
            'attributes %r contains %s, which %s not a file attribute; give letters of chattr such as "+i" (known: %s)'
            % (
                attributes,
                ', '.join(repr(char) for char in unknown),
                'is' if len(unknown) == 1 else 'are',
                ''.join(sorted(FILE_ATTRIBUTES)),
            ),
        )


def validate_file_options(params):
    """Check dest and the file attributes options before any request; return dest as an absolute path."""
    dest = validate_dest(params['dest'])
    validate_mode(params.get('mode'), os.path.dirname(dest))
    validate_owner('owner', params.get('owner'), pwd.getpwnam)
    validate_owner('group', params.get('group'), grp.getgrnam)
    validate_attributes(params.get('attributes'))
    return dest
