# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Render the reliability suite's results as docs/reliability.md.

    python tests/reliability/render_report.py RESULTS_DIRECTORY OUTPUT_FILE

The page depends only on the rows: tables and rows come in a fixed order, and a row has no
timings, so two runs of a passing suite give the same page.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import TABLES, read_results

TITLES = {
    'faults': (
        'Fault matrix',
        'Every plugin against every injected fault. The fault hits the plugin\'s first request once; the client '
        'may resend twice (`api_retries: 2`), times out after 0.5 s and waits without jitter, so the waits are '
        'exact. *Requests* is the sequence the simulator saw.',
    ),
    'double_action': (
        'No double action, no false success',
        'Retry and unblock when the response to their `PUT` is lost, after the simulator applied the change or '
        'without it. *Outcome* counts the changes the simulator applied. The last rows run a retry budget out.',
    ),
    'token': ('Token hygiene', 'Every plugin\'s output at `-vvvv`, scanned for the API token.'),
    'bad_input': ('Bad input', 'Invalid option values: each must fail before any request, naming the option.'),
    'load': ('Load', 'Many hosts against one rate-limited simulator.'),
}

# Keys that order rows or feed the key figures without a column of their own.
HIDDEN_KEYS = ('order', 'applied')
# Columns come in this order; other columns follow alphabetically.
COLUMN_ORDER = ('plugin', 'option', 'case', 'fault', 'input', 'expected', 'outcome', 'requests', 'passed')
UUID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{8}([0-9a-f]{4})')
ORGANIZATION_PREFIX = '/v2/organizations/acme'


SMART_QUOTE_ESCAPES = {ord(quote): '\\u%04x' % ord(quote) for quote in '\u2018\u2019\u201c\u201d'}


def columns_of(rows):
    names = {name for row in rows for name in row if name not in HIDDEN_KEYS}
    ordered = [name for name in COLUMN_ORDER if name in names]
    return ordered + sorted(names - set(ordered))


def format_cell(value):
    """Return one table cell: lists one item a line, job ids cut to their last four digits."""
    if isinstance(value, bool):
        return 'yes' if value else '**NO**'
    if value is None:
        return ''
    if isinstance(value, (list, tuple)):
        return '<br>'.join(format_cell(item) for item in value) or '(none)'
    text = str(value).replace(ORGANIZATION_PREFIX, '…')
    text = UUID.sub(lambda match: '…' + match.group(1), text)
    text = ' '.join(text.split())
    # ansible-test sanity (no-smart-quotes) rejects typographic quotes in any file, so a bad input
    # that contains one is shown as its escape.
    text = text.translate(SMART_QUOTE_ESCAPES)
    return text.replace('|', '\\|')


def sort_key(row, columns):
    order = row.get('order')
    return (order if order is not None else 0, [format_cell(row.get(name)) for name in columns])


def summary_lines(tables):
    lines = ['| table | rows | passed |', '| --- | ---: | ---: |']
    for table in TABLES:
        rows = tables.get(table, [])
        if rows:
            passed = sum(1 for row in rows if row.get('passed') is True)
            lines.append('| %s | %d | %d |' % (TITLES[table][0], len(rows), passed))
    return lines


def key_figures(tables):
    """Return the closing counts: faults tried, bad inputs tried, token occurrences, double actions."""
    faults = tables.get('faults', [])
    figures = [
        '- Faults tried: %d kinds, in %d cells.' % (len({row.get('fault') for row in faults}), len(faults)),
    ]
    # A row counts a double action through ``applied`` above 1 or through its ``double_retries`` count.
    rows = [row for table_rows in tables.values() for row in table_rows]
    double_actions = sum(1 for row in rows if (row.get('applied') or 0) > 1)
    double_actions += sum(int(row.get('double_retries') or 0) for row in rows)
    figures.append('- Double actions (a retry or unblock applied twice): %d.' % double_actions)
    if tables.get('bad_input'):
        figures.append('- Bad inputs tried: %d.' % len(tables['bad_input']))
    if tables.get('token'):
        found = sum(int(row.get('occurrences') or 0) for row in tables['token'])
        figures.append('- Token occurrences found: %d.' % found)
    return figures


def render(tables):
    lines = [
        '# Reliability',
        '',
        'What the collection does under faults, bad input and load, as the reliability suite in',
        '`tests/reliability/` tried it against the Buildkite simulator. The suite runs in `make test`;',
        '`make reliability-docs` regenerates this page from its results, and `make reliability` fails',
        'when the page no longer matches them. Do not edit it by hand.',
        '',
        'In the tables, `…` stands for `%s`, and job ids are cut to their last four digits.' % ORGANIZATION_PREFIX,
        '',
        '## Summary',
        '',
        *summary_lines(tables),
        '',
        *key_figures(tables),
    ]
    for table in TABLES:
        rows = tables.get(table)
        if not rows:
            continue
        title, description = TITLES[table]
        columns = columns_of(rows)
        lines += ['', '## %s' % title, '', description, '']
        lines.append('| %s |' % ' | '.join(columns))
        lines.append('| %s |' % ' | '.join('---' for _column in columns))
        for row in sorted(rows, key=lambda row: sort_key(row, columns)):
            lines.append('| %s |' % ' | '.join(format_cell(row.get(name)) for name in columns))
    return '\n'.join(lines) + '\n'


def main(argv):
    if len(argv) != 3:
        sys.stderr.write('usage: render_report.py RESULTS_DIRECTORY OUTPUT_FILE\n')
        return 2
    tables = read_results(argv[1])
    if not tables:
        sys.stderr.write('no reliability results in %s; run the suite first\n' % argv[1])
        return 1
    Path(argv[2]).write_text(render(tables), encoding='utf-8')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
