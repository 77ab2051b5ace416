# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment(object):
    # How a module names the job it acts on.
    DOCUMENTATION = r'''
options:
  job:
    description:
      - UUID of the job, the part after C(#) in the job's web URL.
      - With only O(organization), the organization-scoped API routes are used; with O(pipeline) and
        O(build) too, the build-scoped routes.
      - Mutually exclusive with O(step_key).
    type: str
    aliases:
      - job_id
  step_key:
    description:
      - Key of the pipeline step (its C(key) attribute); the module acts on the latest attempt of that step's job.
      - Needs O(pipeline) and O(build), or a build O(url).
      - Exactly one job must match; a parallel or matrix step matches several and fails, listing their ids.
    type: str
  url:
    description:
      - Web URL of the job, C(https://buildkite.com/<organization>/<pipeline>/builds/<number>#<job>), or of the
        build together with O(step_key).
      - Where O(organization), O(pipeline), O(build) or O(job) are also set, by the task, C(module_defaults) or
        the environment, they must agree with the URL.
      - The URL is only parsed, and its host must be C(buildkite.com); requests go to O(api_url).
    type: str
  pipeline:
    description:
      - Slug of the pipeline, as in C(https://buildkite.com/<organization>/<pipeline>). Goes with O(build).
      - There is no environment fallback, so a playbook that runs inside a Buildkite job never addresses its
        own build by accident.
    type: str
  build:
    description:
      - Number of the build in the pipeline (not its UUID). Goes with O(pipeline).
    type: int
notes:
  - Every value that becomes part of a request path is checked before any request is sent. Slugs are lowercase
    letters, digits, C(-) and C(_); job ids are UUIDs; build numbers are positive.
  - Builds are always read with C(include_retried_jobs=true), so earlier attempts of a retried job stay
    addressable.
'''
