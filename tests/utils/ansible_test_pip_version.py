# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Print the pip version the installed ansible-test puts into its venvs (for example 24.2)."""

from __future__ import annotations

import pathlib
import re

import ansible_test


def main():
    source = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'
    match = re.search(r"pip='([0-9.]+)'", source.read_text(encoding='utf-8'))
    if not match:
        raise SystemExit('cannot find the pip version in %s' % source)
    print(match.group(1))


if __name__ == '__main__':
    main()
