# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad input table: every option of every plugin, with values that must fail before any request.

Each case runs a module's main() in this process (or the lookup through its LookupModule) with
real HTTP to a real simulator, after clearing its request log. A case passes when the plugin
fails, the simulator saw no request, and the message names the option and says what to do. The
table is generated from value shapes per kind of option; test_every_option_is_covered reads each
module's argument spec and the lookup's option definitions, so a new option without cases fails.
"""

from __future__ import annotations

import re

import hygiene_support
import pytest
from ansible.errors import AnsibleError
from ansible.plugins.loader import lookup_loader
from hygiene_support import (
    FILE_COMMON_ARGUMENTS,
    LOOKUP,
    MODULES,
    ORGANIZATION,
    lookup_options,
    module_options,
    random_token,
    run_lookup,
    run_module,
    safe_repr,
)
from results import record

# Fixtures; pytest finds them among the names of a test module.
clean_environment_fixture = hygiene_support.clean_environment_fixture
simulator_fixture = hygiene_support.simulator_fixture

LOOKUP_NAME = 'buildkite_job_env'

# Jobs of the simulator's bundled retry scenario.
FAILED_JOB = '0199a1b2-3000-4000-8000-000000000001'  # acme/web#101, step unit
GATE_JOB = '0199a1b2-3000-4000-8000-000000000018'  # acme/deploy#7, step approve
JOB_BUILDS = {FAILED_JOB: ('web', 101, 'unit'), GATE_JOB: ('deploy', 7, 'approve')}

# Options that no value of this table can make fail before a request, with the reason.
NOT_APPLICABLE = {
    'seuser': 'SELinux context options are ignored on hosts without SELinux, such as the test machines',
    'serole': 'SELinux context options are ignored on hosts without SELinux, such as the test machines',
    'setype': 'SELinux context options are ignored on hosts without SELinux, such as the test machines',
    'selevel': 'SELinux context options are ignored on hosts without SELinux, such as the test machines',
}

UUID = '0199a1b2-3000-4000-8000-000000000001'
HUGE = 'a' * 5000

# Values of every string shape the table tries: empty, huge, unicode, slashes, "..", "%2F",
# spaces, control characters and values that are not strings.
STRING_SHAPES = [
    ('empty', ''),
    ('blank', '   '),
    ('huge', HUGE),
    ('unicode', 'ácme☕'),
    ('slash', 'acme/web'),
    ('dot-dot', '..'),
    ('percent-2F', 'acme%2Fweb'),
    ('space', 'ac me'),
    ('nul', 'ac\x00me'),
    ('newline', 'ac\nme'),
    ('escape', 'ac\x1b[31mme'),
    ('list', ['acme']),
    ('dict', {'name': 'acme'}),
]
NUMBER_TEXTS = [('text', 'abc'), ('empty', ''), ('slash', '1/2'), ('dot-dot', '..'), ('list', [5])]
BOOLEAN_VALUES = [('maybe', 'maybe'), ('empty', ''), ('number-2', 2), ('list', [True]), ('unicode', 'jà')]


def with_hint(hint, values):
    return [(label, value, hint) for label, value in values]


# Hints that show a message says what to do: the form a value must take, or the fix.
SLUG_HINT = r'Buildkite slug|is required'
JOB_HINT = r'job UUID'
# Ansible's argument spec checks the type first, for modules; the lookup's own check words it so.
ANSIBLE_TYPE_HINT = r'unable to convert to (int|float|bool|dict|list|str)|must be (a whole number|a number|a string)'
CHOICES_HINT = r'must be one( or more)? of'


def url_of(simulator, path=''):
    return simulator.url + path


def web_url(pipeline='web', build='101', job=FAILED_JOB, organization=ORGANIZATION):
    return 'https://buildkite.com/%s/%s/builds/%s#%s' % (organization, pipeline, build, job)


# The kinds of option, each with the bad values it gets and the hint its message must contain.
KINDS = {
    'slug': with_hint(SLUG_HINT, [*STRING_SHAPES, ('uppercase', 'ACME')]),
    'job': with_hint(
        JOB_HINT + r'|give a web URL',
        [
            *STRING_SHAPES,
            ('not-uuid', 'abc'),
            ('uuid-suffix', UUID + 'x'),
            ('uuid-slash', UUID + '/retry'),
            ('uuid-dot-dot', UUID[:-2] + '..'),
            ('uuid-percent-2F', UUID[:-3] + '%2F'),
            ('number', 5),
            ('web-url', web_url()),
        ],
    ),
    'build': with_hint(
        r'positive build number|' + ANSIBLE_TYPE_HINT,
        [
            ('zero', 0),
            ('negative', -1),
            ('text', 'abc'),
            # Ansible's type check rejects a build UUID before the module runs, in its own words, and
            # docs/troubleshooting.md gives the fix: the number from .../builds/<number>.
            ('uuid', UUID),
            ('fraction', 1.5),
            ('boolean', True),
            ('too-big', 2**31),
            ('huge', 10**30),
            ('empty', ''),
            ('dot-dot', '..'),
            ('percent-2F', '%2F'),
            ('slash', '101/jobs'),
            ('space', '1 01'),
            # Python's int(), and so Ansible, reads any Unicode decimal digits, so Arabic-Indic 101 is build 101.
            ('unicode', '101½'),
            ('nul', '1\x000'),
            ('list', [101]),
        ],
    ),
    'step_key': with_hint(
        r'key of a pipeline step',
        [
            ('empty', ''),
            ('blank', '   '),
            ('huge', HUGE),
            ('unicode', 'tést'),
            ('dot-dot', '..'),
            ('percent-2F', 'unit%2F'),
            ('space', 'unit tests'),
            ('nul', 'unit\x00'),
            ('newline', 'unit\n'),
            ('list', ['unit']),
        ],
    ),
    'url': with_hint(
        r'web URL|positive build number|job UUID|Buildkite slug|names a build but no job',
        [
            ('empty', ''),
            ('blank', '   '),
            ('not-url', 'acme/web/builds/101'),
            ('api-url', 'https://api.buildkite.com/v2/organizations/acme/pipelines/web/builds/101/jobs/' + UUID),
            ('ftp', web_url().replace('https:', 'ftp:')),
            ('other-host', web_url().replace('://buildkite.com/', '://example.com/')),
            ('build-0', web_url(build='0')),
            ('build-negative', web_url(build='-1')),
            ('build-text', web_url(build='abc')),
            ('job-not-uuid', web_url(job='abc')),
            ('no-job', web_url().split('#')[0]),
            ('dot-dot', web_url(pipeline='..')),
            ('percent-2F', web_url(pipeline='web%2Fother')),
            ('unicode', web_url(organization='ácme')),
            ('space', web_url(pipeline='we b')),
            ('nul', web_url(pipeline='we\x00b')),
            ('huge', web_url(pipeline=HUGE)),
            ('list', [web_url()]),
        ],
    ),
    'unblocker': with_hint(
        r'UUID of a Buildkite user',
        [
            *STRING_SHAPES,
            ('not-uuid', 'dana'),
            ('uuid-slash', UUID + '/x'),
            ('email', 'dana@example.com'),
        ],
    ),
    'api_token': with_hint(
        r'api_token (is required|contains|is \d+ characters)',
        [
            ('empty', ''),
            ('blank', '   '),
            ('space', 'bkua_abc def'),
            ('bearer-prefix', 'Bearer bkua_abc'),
            ('nul', 'bkua_abc\x00'),
            ('inner-newline', 'bkua_abc\ndef'),
            ('escape', 'bkua_\x1b[0m'),
            ('unicode', 'bkua_tökén'),
            ('quoted', '\u201cbkua_abc\u201d'),
            ('huge', 'bkua_' + HUGE),
            ('dict', {'token': 'bkua_abc'}),
        ],
    ),
    'api_url': with_hint(
        r'api_url (must|contains|has|uses)',
        [
            ('empty', lambda simulator: ''),
            ('blank', lambda simulator: '   '),
            ('not-url', lambda simulator: 'api.buildkite.com/v2'),
            ('ftp', lambda simulator: simulator.url.replace('http:', 'ftp:')),
            ('credentials', lambda simulator: simulator.url.replace('http://', 'http://user:secret@')),
            ('token-as-user', lambda simulator: simulator.url.replace('http://', 'http://bkua_abc@')),
            ('query', lambda simulator: simulator.url + '?per_page=100'),
            ('fragment', lambda simulator: simulator.url + '#top'),
            ('plain-http', lambda simulator: 'http://api.buildkite.com/v2'),
            ('no-host', lambda simulator: 'https:///v2'),
            ('bad-port', lambda simulator: 'http://127.0.0.1:99999/v2'),
            ('port-zero', lambda simulator: 'http://127.0.0.1:0/v2'),
            ('space', lambda simulator: simulator.url + '/ x'),
            ('nul', lambda simulator: simulator.url + '\x00'),
            ('inner-newline', lambda simulator: simulator.url.replace('/v2', '\n/v2')),
            ('dot-dot', lambda simulator: '..'),
            ('percent-2F', lambda simulator: '%2F'),
            ('unicode', lambda simulator: 'https://ápi.buildkite.com/v2'),
            ('huge', lambda simulator: 'https://' + 'a' * 300 + '.example/v2'),
            ('dict', lambda simulator: {'url': simulator.url}),
        ],
    ),
    'ca_path': with_hint(
        r'ca_path .*(not a file|empty)',
        [
            ('empty', ''),
            ('missing', '/nonexistent/opskite/ca.pem'),
            ('directory', '/'),
            ('nul', '/etc/ssl\x00/ca.pem'),
            ('dot-dot', '..'),
            ('percent-2F', '%2Fetc%2Fssl%2Fca.pem'),
            ('unicode', '/nonexistent/çà.pem'),
            ('huge', '/' + HUGE),
        ],
    ),
    'timeout': with_hint(
        r'between 0.001 and|' + ANSIBLE_TYPE_HINT,
        [('zero', 0), ('negative', -1), ('nan', 'nan'), ('infinity', 'inf'), ('huge', 10**9), *NUMBER_TEXTS],
    ),
    'api_retries': with_hint(
        r'between 0 and|' + ANSIBLE_TYPE_HINT,
        [('negative', -1), ('huge', 10**9), ('fraction', 1.5), *NUMBER_TEXTS],
    ),
    'wait_timeout': with_hint(
        r'between 0 and|' + ANSIBLE_TYPE_HINT,
        [('negative', -1), ('nan', 'nan'), ('huge', 10**9), *NUMBER_TEXTS],
    ),
    'poll_interval': with_hint(
        r'between 0.1 and|' + ANSIBLE_TYPE_HINT,
        [('zero', 0), ('negative', -1), ('nan', 'nan'), ('huge', 10**9), *NUMBER_TEXTS],
    ),
    'max_bytes': with_hint(
        r'between 1 and|' + ANSIBLE_TYPE_HINT,
        [('zero', 0), ('negative', -1), ('huge', 10**12), ('fraction', 1.5), *NUMBER_TEXTS],
    ),
    'tail_lines': with_hint(
        r'between 1 and|' + ANSIBLE_TYPE_HINT,
        [('zero', 0), ('negative', -1), ('huge', 10**12), ('fraction', 1.5), *NUMBER_TEXTS],
    ),
    'boolean': with_hint(r'valid boolean|must be a boolean|' + ANSIBLE_TYPE_HINT, BOOLEAN_VALUES),
    'choice': with_hint(
        CHOICES_HINT,
        [('empty', ''), ('unknown', 'bogus'), ('uppercase', 'PRESENT'), ('unicode', 'présent'), ('slash', 'a/b')],
    ),
    'state_list': with_hint(
        CHOICES_HINT,
        [('unknown', ['bogus']), ('empty-item', ['']), ('dot-dot', ['..']), ('uppercase', ['FAILED'])],
    ),
    'redact': with_hint(
        r'redact (must|pattern)',
        [
            ('unclosed-set', ['[abc']),
            ('empty-item', ['']),
            ('blank-item', ['  ']),
            ('lone-backslash', ['abc\\']),
            ('empty-set', ['[]']),
            ('huge', [HUGE]),
        ],
    ),
    'variable_names': with_hint(
        r'must contain variable names',
        [('empty-item', ['']), ('equals', ['A=B']), ('nul', ['A\x00B'])],
    ),
    'fields': with_hint(
        r'fields',
        [
            ('text', 'release'),
            ('list', ['release']),
            ('key-space', {'release name': 'x'}),
            ('key-dot-dot', {'..': 'x'}),
            ('key-percent-2F', {'release%2Fname': 'x'}),
            ('key-unicode', {'réléase': 'x'}),
            ('key-empty', {'': 'x'}),
            ('key-huge', {'k' * 101: 'x'}),
            ('key-newline', {'release\n': 'x'}),
            ('value-boolean', {'release': True}),
            ('value-null', {'release': None}),
            ('value-dict', {'release': {'name': 'x'}}),
            ('value-huge', {'release': 'x' * 70000}),
            ('value-nul', {'release': 'x\x00y'}),
            ('value-list-of-booleans', {'regions': [True]}),
        ],
    ),
    'dest': with_hint(
        r'dest',
        [
            ('empty', ''),
            ('missing-directory', '/nonexistent/opskite/job.log'),
            ('directory', '/'),
            ('nul', '/tmp/job\x00.log'),
            ('huge', '/tmp/' + 'a' * 300 + '/job.log'),
        ],
    ),
    'mode': with_hint(r'mode', [('text', 'abc'), ('too-big', '99999'), ('bad-symbolic', 'u+q')]),
    'owner': with_hint(r'owner', [('unknown', 'opskite-no-such-user'), ('nul', 'ro\x00ot')]),
    'group': with_hint(r'group', [('unknown', 'opskite-no-such-group'), ('nul', 'ro\x00ot')]),
    'attributes': with_hint(r'attributes', [('unknown', '+Q'), ('text', 'not attributes')]),
    'terms': with_hint(
        r'term \d+',
        [
            *STRING_SHAPES,
            ('not-uuid', 'abc'),
            ('number', 5),
            ('url-build-0', web_url(build='0')),
            ('url-job-not-uuid', web_url(job='abc')),
            ('url-no-job', web_url().split('#')[0]),
            ('url-dot-dot', web_url(pipeline='..')),
            ('url-percent-2F', web_url(pipeline='a%2Fb')),
        ],
    ),
}

# Kind and context of each option. The context names the valid task that the bad value goes
# into: job (organization and job), build (also pipeline and build), step (step_key with pipeline
# and build), url (url alone), list (a build's job list), env (a job with include_env).
OPTION_KINDS = {
    'api_token': ('api_token', 'job'),
    'api_url': ('api_url', 'job'),
    'validate_certs': ('boolean', 'job'),
    'ca_path': ('ca_path', 'job'),
    'timeout': ('timeout', 'job'),
    'api_retries': ('api_retries', 'job'),
    'organization': ('slug', 'job'),
    'job': ('job', 'job'),
    'job_id': ('job', 'job'),
    'pipeline': ('slug', 'build'),
    'build': ('build', 'build'),
    'step_key': ('step_key', 'step'),
    'url': ('url', 'url'),
    'wait': ('boolean', 'job'),
    'wait_timeout': ('wait_timeout', 'job'),
    'poll_interval': ('poll_interval', 'job'),
    'fields': ('fields', 'job'),
    'unblocker': ('unblocker', 'job'),
    'format': ('choice', 'job'),
    'dest': ('dest', 'job'),
    'max_bytes': ('max_bytes', 'job'),
    'tail_lines': ('tail_lines', 'job'),
    'mode': ('mode', 'dest'),
    'owner': ('owner', 'dest'),
    'group': ('group', 'dest'),
    'attributes': ('attributes', 'dest'),
    'unsafe_writes': ('boolean', 'dest'),
    'include_env': ('boolean', 'job'),
    'redact': ('redact', 'env'),
    'variables': ('variable_names', 'env'),
    'variable_names': ('variable_names', 'env'),
    'on_missing': ('choice', 'env'),
    'wait_for': ('state_list', 'job'),
}
# Options whose kind depends on the plugin.
PLUGIN_OPTION_KINDS = {
    ('buildkite_job_log', 'state'): ('choice', 'job'),
    ('buildkite_job_info', 'state'): ('state_list', 'list'),
    ('buildkite_job_info', 'type'): ('state_list', 'list'),
}
LOOKUP_OPTION_KINDS = {'_terms': ('terms', 'job')}


def kind_of(plugin, option):
    if plugin == LOOKUP_NAME and option in LOOKUP_OPTION_KINDS:
        return LOOKUP_OPTION_KINDS[option]
    return PLUGIN_OPTION_KINDS.get((plugin, option)) or OPTION_KINDS[option]


def plugin_option_names():
    """Return {plugin: sorted options}, read from the plugins themselves."""
    names = dict((name, sorted(module_options(name))) for name in MODULES)
    names[LOOKUP_NAME] = sorted(lookup_options())
    return names


# Values that are valid for one plugin: buildkite_job_info lists the jobs of a build URL.
VALID_FOR = {('buildkite_job_info', 'url', 'no-job')}


def option_cases():
    """Yield one pytest param per plugin, option and bad value."""
    for plugin, options in plugin_option_names().items():
        for option in options:
            if option in NOT_APPLICABLE:
                continue
            kind, context = kind_of(plugin, option)
            for label, value, hint in KINDS[kind]:
                if (plugin, option, label) in VALID_FOR:
                    continue
                yield pytest.param(plugin, option, context, value, hint, id='%s-%s-%s' % (plugin, option, label))


def job_for(plugin):
    return GATE_JOB if plugin == 'buildkite_job_unblock' else FAILED_JOB


def valid_module_args(plugin, context, simulator, token, tmp_path):
    """Return the options of a valid task of ``plugin`` in ``context``; these send requests."""
    job = job_for(plugin)
    pipeline, build, step_key = JOB_BUILDS[job]
    args = {'api_token': token, 'api_url': simulator.url, 'api_retries': 0, 'timeout': 5}
    if context == 'url':
        args['url'] = web_url(pipeline=pipeline, build=build, job=job)
        return args
    args['organization'] = ORGANIZATION
    if context in ('job', 'env', 'dest'):
        args['job'] = job
    elif context == 'build':
        args.update(job=job, pipeline=pipeline, build=build)
    elif context == 'step':
        args.update(pipeline=pipeline, build=build, step_key=step_key)
    elif context == 'list':
        args.update(pipeline=pipeline, build=build)
    if context == 'env':
        args['include_env'] = True
    if context == 'dest':
        args['dest'] = str(tmp_path / 'job.log')
    return args


def valid_lookup_call(simulator, token):
    return [FAILED_JOB], {'api_token': token, 'api_url': simulator.url, 'organization': ORGANIZATION, 'api_retries': 0}


def run_plugin(plugin, option, context, value, simulator, token, tmp_path):
    """Run the plugin with ``option`` set to ``value`` (None: the valid task); return (failed, message)."""
    if plugin == LOOKUP_NAME:
        terms, kwargs = valid_lookup_call(simulator, token)
        if option == '_terms':
            terms = [value]
        elif option is not None:
            kwargs[option] = value
        try:
            run_lookup(terms, **kwargs)
        except AnsibleError as exc:
            return True, str(exc)
        return False, ''

    args = valid_module_args(plugin, context, simulator, token, tmp_path)
    if option is not None:
        args[option] = value
    status, result = run_module(plugin, args, check_mode=True)
    return status != 0 or bool(result.get('failed')), result.get('msg', '')


@pytest.fixture(scope='module')
def token(simulator):
    value = random_token()
    simulator.add_token(value)
    return value


@pytest.mark.parametrize('plugin', [*MODULES, LOOKUP_NAME])
def test_valid_task_sends_requests(plugin, simulator, token, clean_environment, tmp_path):
    """The valid tasks the table starts from do reach the simulator, so an empty request log means something."""
    simulator.clear_requests()

    failed, message = run_plugin(plugin, None, 'job', None, simulator, token, tmp_path)

    assert not failed, message
    assert simulator.requests()


def test_every_option_is_covered():
    uncovered = []
    for plugin, options in plugin_option_names().items():
        for option in options:
            if option in NOT_APPLICABLE:
                continue
            try:
                kind_of(plugin, option)
            except KeyError:
                uncovered.append('%s.%s' % (plugin, option))
    assert uncovered == []


def test_file_options_are_the_common_ones():
    assert set(FILE_COMMON_ARGUMENTS) - set(OPTION_KINDS) == set(NOT_APPLICABLE)


@pytest.mark.parametrize('plugin, option, context, value, hint', list(option_cases()))
def test_bad_input(plugin, option, context, value, hint, simulator, token, clean_environment, tmp_path):
    if callable(value):
        value = value(simulator)
    simulator.clear_requests()

    failed, message = run_plugin(plugin, option, context, value, simulator, token, tmp_path)
    requests_seen = simulator.requests()

    shown_name = {'_terms': 'term', 'job_id': 'job'}.get(option, option)
    names_option = shown_name in message
    # A value of the wrong type may get the type check's message instead of the option's own.
    says_what_to_do = re.search('%s|%s' % (hint, ANSIBLE_TYPE_HINT), message) is not None
    passed = failed and not requests_seen and names_option and says_what_to_do
    record(
        'bad_input',
        {
            'plugin': plugin,
            'option': option,
            'value': safe_repr(value, replacements=[(simulator.url.split('/')[2], '127.0.0.1:PORT')]),
            'expected': 'fails before any request, naming the option and the fix',
            'outcome': 'failed' if failed else 'accepted',
            'requests': len(requests_seen),
            'passed': passed,
        },
    )
    assert failed, 'accepted %r' % (value,)
    assert [entry['method'] + ' ' + entry['path'] for entry in requests_seen] == []
    assert names_option, message
    assert says_what_to_do, message
    assert token not in message


def test_lookup_variables_keyword_clashes_before_the_plugin(simulator, token, clean_environment):
    """variables= fails in Python's call of LookupModule.run, as Ansible makes it, before the plugin runs.

    Ansible passes the play's variables to every lookup under the keyword ``variables``, so the
    lookup names its option variable_names; docs/troubleshooting.md gives this error and the fix.
    """
    terms, kwargs = valid_lookup_call(simulator, token)
    kwargs['variables'] = ['BUILDKITE_BRANCH']
    simulator.clear_requests()

    with pytest.raises(TypeError) as raised:
        lookup_loader.get(LOOKUP).run(terms, variables={}, **kwargs)
    requests_seen = simulator.requests()

    message = str(raised.value)
    passed = 'variables' in message and not requests_seen
    record(
        'bad_input',
        {
            'plugin': LOOKUP_NAME,
            'option': 'variables (keyword)',
            'value': "['BUILDKITE_BRANCH']",
            'expected': "Ansible's TypeError before the plugin runs; documented: use variable_names",
            'outcome': 'failed',
            'requests': len(requests_seen),
            'passed': passed,
        },
    )
    assert "multiple values for keyword argument 'variables'" in message
    assert requests_seen == []
