# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Sphinx settings for the docs site that `make docs` builds into .tmp/docs-site.

`make docs` puts the user guide (docs/*.md) under guide/ and the plugin pages that
`antsibull-docs collection` renders under collection/, next to index.rst from this folder.
The settings follow those that `antsibull-docs sphinx-init` writes, except intersphinx:
the build runs offline, so instead of fetching Ansible's inventory, resolve_ansible_label
links the few Ansible labels that the plugin pages use to docs.ansible.com.
"""

from __future__ import annotations

import re

from docutils import nodes

project = 'opskite.buildkite'
copyright = 'opskite.buildkite contributors'  # pylint: disable=redefined-builtin
title = 'opskite.buildkite'
html_short_title = 'opskite.buildkite'

extensions = ['myst_parser', 'sphinx_antsibull_ext']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}

# Anchors for the Markdown headings, so that links such as page.md#section resolve.
myst_heading_anchors = 3

pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = 'any'
nitpicky = True

ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/latest/'

# Labels of Ansible's own docs that antsibull-docs puts into plugin pages, and their pages.
ANSIBLE_LABELS = {
    'common_return_values': 'reference_appendices/common_return_values.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
}

# The label of a plugin page in another collection, for example
# ansible_collections.ansible.builtin.set_fact_module.
PLUGIN_LABEL = re.compile(r'^ansible_collections\.(\w+)\.(\w+)\.(\w+)_(module|lookup|filter|test|role)$')


def resolve_ansible_label(app, env, node, contnode):
    """Link a reference to a label of Ansible's docs, or return None to let Sphinx warn."""
    if node.get('refdomain') != 'std' or node.get('reftype') != 'ref':
        return None
    label = node.get('reftarget', '')
    page = ANSIBLE_LABELS.get(label)
    match = PLUGIN_LABEL.match(label)
    if match and match.group(1) != 'opskite':
        page = 'collections/%s/%s/%s_%s.html' % match.groups()
    if page is None:
        return None
    reference = nodes.reference('', '', internal=False, refuri=ANSIBLE_DOCS + page)
    reference += contnode
    return reference


def setup(app):
    app.connect('missing-reference', resolve_ansible_label)
