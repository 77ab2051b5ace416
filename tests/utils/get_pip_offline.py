# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Stand-in for the get-pip script that ansible-test downloads to put pip into its venvs.

ansible-test looks for ~/.ansible/test/cache/get_pip_<version>.py before it downloads the
script from its own file host, which machines limited to the package registries cannot reach.
This stand-in installs pip from the Python standard library's ensurepip, then the pip version
ansible-test asked for from the package index. `make test` copies it into place.
"""

from __future__ import annotations

import subprocess
import sys


def main():
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    subprocess.check_call([sys.executable, '-m', 'pip', 'install', '-q', *args])


if __name__ == '__main__':
    main()
