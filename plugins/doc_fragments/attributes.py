# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # Attributes every module of the collection shares; each module adds check_mode and diff_mode support.
    DOCUMENTATION = r'''
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying the target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
  action_group:
    description: Use C(group/opskite.buildkite.buildkite) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - opskite.buildkite.buildkite
'''
