# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection's version, sent in the User-Agent; a unit test keeps it equal to galaxy.yml's."""

from __future__ import annotations

COLLECTION_VERSION = '1.0.0'
