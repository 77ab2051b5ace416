# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A job's environment: redaction by name pattern and selection of variables.

Shared by buildkite_job_info (include_env) and the buildkite_job_env lookup, so both validate
redact, variables and on_missing the same way and return the same dict.
"""

from __future__ import annotations

import re

from ansible_collections.opskite.buildkite.plugins.module_utils._client import BuildkiteConfigError, BuildkiteError

# The Buildkite agent's default redacted-vars list (agent option --redacted-vars).
DEFAULT_REDACT = (
    '*_PASSWORD',
    '*_SECRET',
    '*_TOKEN',
    '*_PRIVATE_KEY',
    '*_ACCESS_KEY',
    '*_SECRET_KEY',
    '*_CONNECTION_STRING',
)
REDACTED = '[REDACTED]'
ON_MISSING_CHOICES = ('error', 'warn', 'skip')
MAX_PATTERN_LENGTH = 256


class EnvSettings(object):
    """Validated redact, variables and on_missing options.

    ``variables_option`` is the name under which the plugin takes ``variables``, for messages.
    """

    def __init__(self, redact_patterns, variables, on_missing, variables_option='variables'):
        self.redact_patterns = redact_patterns
        self.variables = variables
        self.on_missing = on_missing
        self.variables_option = variables_option
        self._matcher = compile_patterns(redact_patterns)

    def is_redacted(self, name):
        return self._matcher is not None and self._matcher.fullmatch(name) is not None


def glob_to_regex(pattern):
    """Translate one glob pattern into a regular expression, or raise naming the redact option.

    ``*`` matches any run of characters, ``?`` one character, ``[...]`` one character of a set or
    range (``[!...]`` or ``[^...]`` one outside it), and outside a set a backslash makes the next
    character literal. These are the rules of Go's path.Match, which the Buildkite agent uses,
    except that ``*`` and ``?`` here also match ``/``.
    """
    parts = []
    index = 0
    length = len(pattern)
    while index < length:
        char = pattern[index]
        if char == '*':
            parts.append('.*')
        elif char == '?':
            parts.append('.')
        elif char == '\\':
            if index + 1 == length:
                raise BuildkiteConfigError('redact', 'redact pattern %r ends with a lone backslash' % (pattern,))
            index += 1
            parts.append(re.escape(pattern[index]))
        elif char == '[':
            end = index + 1
            if end < length and pattern[end] in '!^':
                end += 1
            if end < length and pattern[end] == ']':
                end += 1
            while end < length and pattern[end] != ']':
                end += 1
            if end >= length:
                raise BuildkiteConfigError(
                    'redact',
                    'redact pattern %r has a "[" without its closing "]"; write \\[ for a literal "["' % (pattern,),
                )
            body = pattern[index + 1 : end]
            negate = body[:1] in ('!', '^')
            if negate:
                body = body[1:]
            if not body:
                raise BuildkiteConfigError('redact', 'redact pattern %r has an empty character set "[]"' % (pattern,))
            escaped = body.replace('\\', '\\\\').replace('^', '\\^').replace('[', '\\[').replace(']', '\\]')
            parts.append('[%s%s]' % ('^' if negate else '', escaped))
            index = end
        else:
            parts.append(re.escape(char))
        index += 1
    return ''.join(parts)


def compile_patterns(patterns):
    """Return one case-insensitive regular expression matching any of the glob patterns, or None."""
    if not patterns:
        return None
    return re.compile('|'.join('(?:%s)' % glob_to_regex(pattern) for pattern in patterns), re.IGNORECASE | re.DOTALL)


def validate_redact(value):
    """Return the redact patterns as a tuple. None gives the agent's default list, and [] gives none."""
    if value is None:
        return DEFAULT_REDACT
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise BuildkiteConfigError(
            'redact', 'redact must be a list of glob patterns such as ["*_TOKEN", "DB_*"], got %r' % (value,)
        )
    patterns = []
    for pattern in value:
        if not isinstance(pattern, str) or not pattern.strip():
            raise BuildkiteConfigError(
                'redact', 'redact must contain non-empty glob patterns such as "*_TOKEN", got %r' % (pattern,)
            )
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise BuildkiteConfigError(
                'redact', 'redact pattern %r is longer than %d characters' % (pattern[:40] + '...', MAX_PATTERN_LENGTH)
            )
        try:
            re.compile(glob_to_regex(pattern))
        except re.error as exc:
            raise BuildkiteConfigError('redact', 'redact pattern %r is not a valid glob pattern: %s' % (pattern, exc))
        patterns.append(pattern)
    return tuple(patterns)


def validate_variables(value, option='variables'):
    """Return the variable names as a tuple without duplicates, or None to keep every variable."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise BuildkiteConfigError(
            option, '%s must be a list of variable names such as ["BUILDKITE_COMMIT"], got %r' % (option, value)
        )
    names = []
    for name in value:
        if not isinstance(name, str) or not name or '=' in name or '\x00' in name:
            raise BuildkiteConfigError(
                option,
                '%s must contain variable names, which are not empty and contain no "=" or NUL, got %r'
                % (option, name),
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def validate_on_missing(value):
    if value not in ON_MISSING_CHOICES:
        raise BuildkiteConfigError(
            'on_missing', 'on_missing must be one of %s, got %r' % (', '.join(ON_MISSING_CHOICES), value)
        )
    return value


def env_settings(redact=None, variables=None, on_missing='error', variables_option='variables'):
    """Validate the env options and return EnvSettings, or raise BuildkiteConfigError naming the option."""
    return EnvSettings(
        validate_redact(redact),
        validate_variables(variables, variables_option),
        validate_on_missing(on_missing),
        variables_option,
    )


def shape_env(env, settings):
    """Return (env, missing): the selected variables with secret values redacted, and the requested names absent.

    Values are returned exactly as the API sent them, except that a non-empty value whose name
    matches a redact pattern becomes ``[REDACTED]``. An empty value stays empty, because it reveals
    nothing. Names keep the API's order, or the order of ``variables`` when it is given.
    """
    if settings.variables is None:
        names = list(env)
        missing = []
    else:
        names = [name for name in settings.variables if name in env]
        missing = [name for name in settings.variables if name not in env]

    shaped = {}
    for name in names:
        value = env[name]
        shaped[name] = REDACTED if value != '' and settings.is_redacted(name) else value
    return shaped, missing


def describe_missing_variables(missing, description=None):
    """Return the clause that names the variables absent from a job's environment.

    With ``description`` (such as "job <id> in acme"), the clause names the job, for a warning.
    """
    subject = 'the environment of %s' % description if description else 'the environment'
    return '%s has no variable%s %s' % (subject, '' if len(missing) == 1 else 's', ', '.join(missing))


def missing_variables_error(missing, option='variables'):
    """Return the error for variables absent from a job's environment with on_missing=error."""
    return BuildkiteError(
        '%s; check the names in %s, or set on_missing to warn or skip' % (describe_missing_variables(missing), option)
    )
