# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Install Ansible's collection loader when pytest runs without ansible-test.

``ansible-test units`` installs it itself. Plain pytest, with the collection's parent directory
on PYTHONPATH, imports the collection as a namespace package, which is enough for importing
modules but not for the plugin loader, so the lookup tests could not load the plugin by name.
The loader must be installed before the collection is first imported, hence this top conftest.
"""

from __future__ import annotations

import os

import ansible_collections
from ansible.utils.collection_loader import AnsibleCollectionConfig
from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

if AnsibleCollectionConfig.collection_finder is None:
    _AnsibleCollectionFinder(paths=[os.path.dirname(path) for path in ansible_collections.__path__])._install()
