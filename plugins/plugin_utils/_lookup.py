# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller-side glue for the lookup plugins: their options to a BuildkiteClient, their terms to jobs.

Plugin options come from Ansible's configuration machinery (keyword arguments, variables,
environment variables and ansible.cfg), so the lookup reads them with get_option and hands
them to the same validation the modules use.
"""

from __future__ import annotations

import configparser
import os
import re

from ansible import constants as C
from ansible.module_utils.parsing.convert_bool import BOOLEANS

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteConfigError
from ansible_collections.opskite.buildkite.plugins.module_utils._jobs import (
    UUID_PATTERN,
    JobTarget,
    parse_web_url,
    validate_slug,
)
from ansible_collections.opskite.buildkite.plugins.module_utils._options import client_from_options

CONNECTION_OPTIONS = ('api_token', 'api_url', 'validate_certs', 'ca_path', 'timeout', 'api_retries', 'organization')


def plugin_var_options(plugin, variables, templar=None):
    """Return the Ansible variables that set the plugin's options, templated.

    A lookup receives the play's variables unrendered, so that ``buildkite_api_token: "{{ vault_token }}"``
    would reach the option as that text. Only the variables named in the plugin's documentation are
    rendered, as ansible-core does for connection plugins.
    """
    names = C.config.get_plugin_vars(plugin.plugin_type, plugin._load_name)
    selected = dict((name, variables[name]) for name in names if name in (variables or {}))
    if templar is None:
        return selected
    return dict((name, templar.template(value)) for name, value in selected.items())


def option_and_origin(plugin, name, var_options, direct):
    """Return the value that set_options gave an option, and where that value came from.

    AnsiblePlugin.get_option_and_origin in ansible-core 2.16 computes both again from the
    environment, ansible.cfg and the default alone, so it misses a keyword argument or a variable
    that set_options received. ansible-core 2.17 and later keep what set_options found. This
    function checks those two sources first, in Ansible's order of precedence: a keyword, then
    the last of the option's variables that is set.
    """
    value = plugin.get_option(name)
    definition = plugin.option_definitions.get(name, {})
    keywords = [name, *definition.get('aliases', [])]
    if any(direct.get(keyword) is not None for keyword in keywords):
        return value, 'Direct'
    variables_set = [
        entry['name'] for entry in definition.get('vars') or [] if var_options.get(entry['name']) is not None
    ]
    if variables_set:
        return value, 'var: %s' % variables_set[-1]
    return value, plugin.get_option_and_origin(name)[1]


def raw_option_value(name, origin, var_options, direct):
    """Return an option's value as its source gave it, before Ansible converted its type, or None."""
    if origin == 'Direct':
        return direct.get(name)
    if origin.startswith('var: '):
        return var_options.get(origin[len('var: ') :])
    if origin.startswith('env: '):
        return os.environ.get(origin[len('env: ') :])
    if origin != 'default' and os.path.isfile(origin):
        parser = configparser.ConfigParser(inline_comment_prefixes=(';',), interpolation=None)
        parser.read(origin, encoding='utf-8')
        return parser.get('buildkite', name, fallback=None)
    return None


def check_boolean_option(plugin, name, var_options, direct):
    """Raise when the text that set a boolean option is not a boolean.

    Ansible's configuration turns any unknown text into false, so that ``validate_certs: maybe``
    would silently turn certificate verification off. Modules reject such values, and so does this.
    """
    _value, origin = option_and_origin(plugin, name, var_options, direct)
    raw = raw_option_value(name, origin, var_options, direct)
    not_text = raw is not None and not isinstance(raw, (str, bool)) and raw not in (0, 1)
    if not_text or (isinstance(raw, str) and raw.strip().lower() not in BOOLEANS):
        raise BuildkiteConfigError(
            name,
            '%s must be a boolean such as true or false, got %r (from %s)' % (name, raw, describe_origin(name, origin)),
        )


# The wording that messages use for the value of an option, per documented type.
TYPE_DESCRIPTIONS = {
    'int': 'a whole number such as 5',
    'integer': 'a whole number such as 5',
    'float': 'a number such as 30',
    'str': 'a string',
    'string': 'a string',
    'path': 'a path',
    'list': 'a list',
}
WHOLE_NUMBER = re.compile(r'^\s*[-+]?[0-9]+\s*$')
# Options whose value never appears in a message.
SECRET_OPTIONS = frozenset(('api_token',))


def has_type(value, option_type):
    """Tell whether Ansible's configuration can convert ``value`` to ``option_type`` as the option means it."""
    if isinstance(value, bool):
        return option_type not in ('int', 'integer', 'float')
    if option_type in ('int', 'integer'):
        return isinstance(value, int) or (isinstance(value, str) and WHOLE_NUMBER.match(value) is not None)
    if option_type == 'float':
        if isinstance(value, (int, float)):
            return True
        try:
            float(value)
        except (TypeError, ValueError):
            return False
        return True
    if option_type in ('str', 'string', 'path'):
        return isinstance(value, (str, int, float))
    if option_type == 'list':
        return isinstance(value, (str, list, tuple))
    return True


def check_direct_options(plugin, direct):
    """Raise, naming the option, for a keyword argument of the wrong type or outside its choices.

    Ansible's configuration would raise too, but in words that name neither the valid values nor
    the fix, and it turns a list or dict given for a string into that text. Booleans are left to
    check_boolean_option, which also sees the other sources.
    """
    for name in sorted(direct):
        definition = plugin.option_definitions.get(name)
        if definition is None:
            continue
        value = direct[name]
        if value is None:
            continue
        shown = 'a value of type %s' % type(value).__name__ if name in SECRET_OPTIONS else repr(value)
        option_type = definition.get('type') or 'str'
        if option_type in ('bool', 'boolean'):
            if not isinstance(value, (bool, str)) and value not in (0, 1):
                raise BuildkiteConfigError(name, '%s must be a boolean such as true or false, got %s' % (name, shown))
            continue
        if not has_type(value, option_type):
            raise BuildkiteConfigError(
                name,
                '%s must be %s, got %s' % (name, TYPE_DESCRIPTIONS.get(option_type, option_type), shown),
            )
        choices = definition.get('choices')
        if choices and value not in choices:
            raise BuildkiteConfigError(
                name, '%s must be one of %s, got %s' % (name, ', '.join(str(choice) for choice in choices), shown)
            )


def reject_unknown_options(plugin, direct):
    """Reject keyword arguments the plugin does not document; Ansible's configuration ignores them silently."""
    unknown = sorted(set(direct) - set(plugin.option_definitions))
    if unknown:
        raise BuildkiteConfigError(
            unknown[0],
            'unknown option%s %s; the options are %s'
            % (
                '' if len(unknown) == 1 else 's',
                ', '.join(unknown),
                ', '.join(sorted(name for name in plugin.option_definitions if not name.startswith('_'))),
            ),
        )


def client_from_lookup(plugin, warn=None):
    """Validate the lookup's connection options and return a BuildkiteClient; no request is sent."""
    options = dict((name, plugin.get_option(name)) for name in CONNECTION_OPTIONS)
    return client_from_options(options, warn=warn)


def describe_origin(name, origin):
    """Return where an option's value came from, in a user's words, from Ansible's config origin."""
    if origin == 'Direct':
        return 'the keyword argument %s' % name
    if origin.startswith('var: '):
        return 'the variable %s' % origin[len('var: ') :]
    if origin.startswith('env: '):
        return 'the environment variable %s' % origin[len('env: ') :]
    if origin == 'default':
        return 'the default'
    return '%s in the [buildkite] section of %s' % (name, origin)


def target_from_term(term, index, organization=None, organization_origin=None):
    """Return a JobTarget for one lookup term, a job UUID or a job's web URL. No request is sent.

    A UUID uses the organization-scoped routes and needs ``organization``. A web URL names its
    organization, pipeline and build, and uses the build-scoped routes. ``index`` (from 1) and
    ``organization_origin`` only serve the messages.
    """
    label = 'term %d' % index
    if not isinstance(term, str) or not term.strip():
        raise BuildkiteConfigError(
            '_terms',
            '%s must be a job UUID or a job\'s web URL, got %r' % (label, term),
        )
    text = term.strip()

    if '/' in text:
        try:
            from_url = parse_web_url(text)
        except BuildkiteConfigError as exc:
            raise BuildkiteConfigError('_terms', '%s is not a valid job web URL: %s' % (label, exc))
        if from_url['job'] is None:
            raise BuildkiteConfigError(
                '_terms', '%s names a build but no job: add "#<job id>" to the URL, got %r' % (label, term)
            )
        if organization is not None and organization != from_url['organization']:
            raise BuildkiteConfigError(
                'organization',
                'organization is %r (from %s) but %s names organization %r; remove one of them or make them agree'
                % (organization, organization_origin or 'the lookup options', label, from_url['organization']),
            )
        return JobTarget(from_url['organization'], from_url['pipeline'], from_url['build'], from_url['job'])

    job_id = text.lower()
    if not UUID_PATTERN.fullmatch(job_id):
        raise BuildkiteConfigError(
            '_terms',
            '%s must be a job UUID such as 01234567-89ab-cdef-0123-456789abcdef, or a job\'s web URL such as '
            'https://buildkite.com/<organization>/<pipeline>/builds/<number>#<job>, got %r' % (label, term),
        )
    if organization is None or not str(organization).strip():
        raise BuildkiteConfigError(
            'organization',
            'organization is required for %s, a job UUID: set the organization keyword, the buildkite_organization '
            'variable, BUILDKITE_ORGANIZATION_SLUG or organization in the [buildkite] section of ansible.cfg, or '
            'give the job\'s web URL' % label,
        )
    validate_slug('organization', organization)
    return JobTarget(organization, job_id=job_id)
