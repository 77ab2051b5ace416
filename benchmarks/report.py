# -*- coding: utf-8 -*-
# Copyright (c) opskite.buildkite contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Render the figures of benchmarks/run.py as docs/benchmarks.md."""

from __future__ import annotations

MIB = 1024 * 1024
RSS_TARGET_MIB = 64
TAIL_TARGET_BYTES = MIB
RATIO_TARGET = 1.0

# Reasons, from reading the modules, for the requests a task sends above the minimum; shown under its finding.
EXTRA_REQUEST_NOTES = {
    'retry, job id': (
        'The refused PUT (400) carries no job, and the module returns the latest attempt, so it reads the job'
        ' (which tells "already retried" from a refusal and names `retried_in_job_id`) and then that attempt.'
        ' Both reads are needed by job id alone; with pipeline and build given, one `GET` of the build (every'
        ' attempt included) would answer both, saving one request.'
    ),
    'unblock, job id': (
        'The refused PUT (400 `The job\'s state must be blocked`) carries no job, and the message alone does'
        ' not prove the step was unblocked, because every state other than `blocked` and `blocked_failed`'
        ' gets it in the simulator. The one read is what a correct `changed: false` with the job costs.'
    ),
    'log, state: absent': (
        'The module sends `HEAD` for the size before `DELETE`. A `DELETE` alone would do: 204 means the log'
        ' was deleted, and 404 that it was already gone. Of the extra requests, this is the one worth fixing.'
    ),
}


def seconds_list(values):
    return ', '.join('%.1f' % value for value in values)


def mib(kib_or_bytes, unit='bytes'):
    """Return a size as MiB, or as KiB below 1 MiB."""
    value = kib_or_bytes * 1024 if unit == 'kib' else kib_or_bytes
    if value < MIB:
        return '%.1f KiB' % (value / 1024)
    return '%.1f MiB' % (value / MIB)


def yes_no(condition):
    return 'yes' if condition else '**no**'


def request_cell(run, minimum):
    """Return 'N (list)' for one run, marking a count above the minimum."""
    count = len(run['requests'])
    text = '%d: %s' % (count, ', '.join(run['requests']))
    if count > minimum[1]:
        text = '**%s**' % text
    return text


def rows_above_minimum(cases):
    above = []
    for case in cases:
        first_minimum, rerun_minimum = case['minimum']
        if len(case['first']['requests']) > first_minimum[1]:
            above.append((case, 'first run', case['first'], first_minimum))
        if len(case['rerun']['requests']) > rerun_minimum[1]:
            above.append((case, 're-run', case['rerun'], rerun_minimum))
    return above


def render_machine(results):
    machine = results['machine']
    return [
        '| | |',
        '|---|---|',
        '| command | `make bench` (runs `.venv/bin/python %s`) |' % results['command'],
        '| CPUs (`nproc`) | %s |' % machine['nproc'],
        '| CPU model (`/proc/cpuinfo`) | %s |' % machine['cpu_model'],
        '| system | %s |' % machine['system'],
        '| Python | %s |' % machine['python'],
        '| Ansible | %s |' % machine['ansible'].replace('ansible [core ', 'ansible-core ').rstrip(']'),
        '| requests | %s |' % machine['requests'],
        '| whole run | %.0f s |' % results['total_seconds'],
    ]


def render_targets(results):
    wall = dict((row['workload'], row) for row in results['wall_time'])
    huge = dict((row['case'], row) for row in results['huge_log']['rows'])
    dest = huge['dest']
    tail = huge['tail_lines: 100']
    above = rows_above_minimum(results['requests'])
    lines = [
        '| target | measured | met |',
        '|---|---|---|',
    ]
    for name in ('retry', 'unblock'):
        row = wall[name]
        lines.append(
            '| %s: collection/uri wall-time ratio at or below %.1f | %.2f | %s |'
            % (name, RATIO_TARGET, row['ratio'], yes_no(row['ratio'] <= RATIO_TARGET))
        )
    lines.append(
        '| requests per task equal to the minimum | %d of %d runs above it | %s |'
        % (len(above), 2 * len(results['requests']), yes_no(not above))
    )
    lines.append(
        '| peak RSS under %d MiB for the 1 GiB log with `dest` | %s | %s |'
        % (RSS_TARGET_MIB, mib(dest['rss_kib'], 'kib'), yes_no(dest['rss_kib'] * 1024 < RSS_TARGET_MIB * MIB))
    )
    lines.append(
        '| `tail_lines: 100` on the 1 GiB log transfers under 1 MiB | %d bytes | %s |'
        % (tail['bytes'], yes_no(tail['bytes'] < TAIL_TARGET_BYTES))
    )
    return lines


def render_requests(results):
    lines = [
        'Each task runs twice against a freshly loaded scenario. Modules run as their own process',
        '(`python plugins/modules/NAME.py args.json`, the way Ansible runs them on the target, without',
        'AnsiballZ). The lookup runs in `benchmarks/playbooks/env_lookup.yml`. A check-mode row runs',
        'once before the real task on the same job (first run: the task would change something) and once',
        'after it (re-run: nothing left to change). Requests are `METHOD route status` from the',
        "simulator's request log, and **bold** marks a count above the minimum. Connections are the",
        'distinct client ports of the run.',
        '',
        'The minimum is the fewest requests that give the result each module documents.',
        'A retry or unblock by job id is one `PUT`. On a re-run the API rejects that `PUT`. A rejection',
        'alone does not tell "already done" from a real refusal, so one `GET` of the job follows. A',
        'retry then reads the latest attempt, because the task returns it as `job`. Check mode is one',
        '`GET` of the build (it holds the job and every attempt), and it does not read the token\'s',
        'scopes. Deleting a log sends `HEAD` before `DELETE`: what a second `DELETE` returns is not',
        'documented, and a `DELETE` that always answers 204 would report a change on every run.',
        '',
        '| task | first run: requests | minimum | re-run: requests | minimum | connections per run |',
        '|---|---|---|---|---|---|',
    ]
    for case in results['requests']:
        first_minimum, rerun_minimum = case['minimum']
        connections = sorted(set((case['first']['connections'], case['rerun']['connections'])))
        lines.append(
            '| %s | %s | %d (%s) | %s | %d (%s) | %s |'
            % (
                case['task'],
                request_cell(case['first'], first_minimum),
                first_minimum[1],
                first_minimum[0],
                request_cell(case['rerun'], rerun_minimum),
                rerun_minimum[1],
                rerun_minimum[0],
                ' or '.join(str(value) for value in connections),
            )
        )
    return lines


def render_wall_time(results):
    lines = [
        'Each figure is the wall time of one `ansible-playbook` run (`-i localhost, --forks 5`,',
        '`hosts: localhost`, `connection: local`, one task with a loop over %d job ids) from start to exit.'
        % results['wall_time'][0]['tasks'],
        'The collection playbooks are `benchmarks/playbooks/retry_collection.yml` and',
        '`unblock_collection.yml`; the baselines `retry_uri.yml` and `unblock_uri.yml` send the same',
        'PUT per job with `ansible.builtin.uri`. The simulator reloads the scenario before every run,',
        'each playbook runs once on one job first as a discarded warm-up, and the order of the two',
        'variants alternates from round to round. The ratio is the collection median over the uri median.',
        '',
        '| workload | collection runs (s) | uri runs (s) | collection median | uri median | ratio '
        '| requests (collection / uri) |',
        '|---|---|---|---|---|---|---|',
    ]
    for row in results['wall_time']:
        lines.append(
            '| %d %s tasks | %s | %s | %.1f s | %.1f s | %.2f | %d / %d |'
            % (
                row['tasks'],
                row['workload'],
                seconds_list(row['collection_seconds']),
                seconds_list(row['uri_seconds']),
                row['collection_median'],
                row['uri_median'],
                row['ratio'],
                row['collection_requests'],
                row['uri_requests'],
            )
        )
    return lines


def render_env(results):
    env = results['env']
    lines = [
        '`benchmarks/playbooks/env_lookup.yml` reads %d job environments with one `query()` of the lookup;'
        % env['jobs'],
        '`env_uri.yml` sends one `GET .../env` per job with `ansible.builtin.uri` in a loop. Both check',
        'that every job came back. Connections are the distinct client ports in the request log.',
        '',
        '| variant | runs (s) | median | requests | connections |',
        '|---|---|---|---|---|',
    ]
    for variant, label in (('lookup', 'lookup, one query'), ('uri', 'uri, one task per job')):
        record = env[variant]
        lines.append(
            '| %s | %s | %.1f s | %d | %d |'
            % (
                label,
                seconds_list(record['seconds']),
                record['median'],
                max(record['requests']),
                max(record['connections']),
            )
        )
    lines.extend(['', 'Lookup/uri wall-time ratio: %.3f.' % env['ratio']])
    return lines


def render_huge_log(results):
    huge = results['huge_log']
    lines = [
        '`buildkite_job_log` runs directly as its own process under `/usr/bin/time -v` on `huge_log` of',
        'the `logs` scenario (%d bytes, generated). Peak RSS is GNU time\'s "Maximum resident set size" of'
        % huge['log_size'],
        'the module process. Bytes transferred are the response bodies (HTTP headers excluded): each logged',
        "GET is sent again with the same path, `Accept` and `Range`, and the response's `Content-Length`",
        'counted.',
        '',
        '| options | requests | bytes transferred | peak RSS | wall time | result |',
        '|---|---|---|---|---|---|',
    ]
    for row in huge['rows']:
        if row['content_bytes'] is not None:
            outcome = '`content` of %d bytes' % row['content_bytes']
        else:
            outcome = '`dest` file of %d bytes (colour codes and timestamp markers stripped)' % row['result_size']
        lines.append(
            '| %s | %s | %d (%s) | %s | %.1f s | %s |'
            % (
                row['case'],
                ', '.join(row['requests']),
                row['bytes'],
                mib(row['bytes']),
                mib(row['rss_kib'], 'kib'),
                row['seconds'],
                outcome,
            )
        )
    return lines


def render_imports(results):
    imports = results['imports']
    lines = [
        'Median wall time of `python -c STATEMENT` in a fresh interpreter over %d runs each, alternating'
        % imports['runs'],
        'the order, with the collection importable as `ansible_collections.opskite.buildkite`. The',
        'differences to "Python start-up alone" are what an import adds to every module run.',
        '',
        '| import | median | added to start-up |',
        '|---|---|---|',
    ]
    baseline = imports['rows'][0]['median']
    for row in imports['rows']:
        added = '' if row is imports['rows'][0] else '%.0f ms' % ((row['median'] - baseline) * 1000)
        lines.append('| %s | %.0f ms | %s |' % (row['what'], row['median'] * 1000, added))
    lines.extend(
        [
            '',
            '`python -X importtime` of `buildkite_job_retry`, cumulative time of each import at its first',
            'appearance:',
            '',
            '| import | cumulative |',
            '|---|---|',
        ]
    )
    for name, seconds in sorted(imports['importtime'].items(), key=lambda item: -item[1]):
        lines.append('| `%s` | %.0f ms |' % (name, seconds * 1000))
    return lines


def render_findings(results):
    """Return what the figures show is worth fixing, as bullet points built from the figures."""
    annotated = []
    described = set()
    for case, run, measured, minimum in rows_above_minimum(results['requests']):
        annotated.append(
            '- **%s**, %s: %d requests (%s) where %d (%s) would do.'
            % (case['task'], run, len(measured['requests']), ', '.join(measured['requests']), minimum[1], minimum[0])
        )
        note = EXTRA_REQUEST_NOTES.get(case['task'])
        if note and case['task'] not in described:
            annotated.append('  ' + note)
            described.add(case['task'])

    huge = dict((row['case'], row) for row in results['huge_log']['rows'])
    content = huge['content (default max_bytes: 1048576)']
    if len(content['requests']) > 1:
        annotated.append(
            '- **log, content on the 1 GiB log**: %d requests (%s), %d bytes. The JSON `GET` of a log larger'
            ' than the API renders (64 MiB in the simulator) is refused with 413 before the module falls back'
            ' to a suffix range. A `HEAD` gives the size first, but costs a request on every small log too, so'
            ' the fallback is only worth changing if large logs are common.'
            % (len(content['requests']), ', '.join(content['requests']), content['bytes'])
        )

    wall = dict((row['workload'], row) for row in results['wall_time'])
    imports = dict((row['what'], row['median']) for row in results['imports']['rows'])
    baseline = imports['Python start-up alone']
    requests_cost = imports['requests'] - baseline
    urls_cost = imports['ansible.module_utils.urls (what ansible.builtin.uri uses)'] - baseline
    per_task = ', '.join(
        '%s %.2f s per task with the collection and %.2f s with uri'
        % (name, row['collection_median'] / row['tasks'], row['uri_median'] / row['tasks'])
        for name, row in wall.items()
    )
    met = all(row['ratio'] <= RATIO_TARGET for row in wall.values())
    annotated.append(
        '- **Wall time** (%s): %s. Both are dominated by Ansible starting a module process for every task,'
        ' while the lookup in section 3 sends %d requests in %.1f s, playbook start-up included.'
        % (
            per_task,
            'the target is met' if met else 'the target is not met',
            results['env']['jobs'],
            results['env']['lookup']['median'],
        )
    )
    if urls_cost >= requests_cost:
        alternative = (
            'Moving to `ansible.module_utils.urls` would not make a task cheaper, because it costs as much to import.'
        )
    else:
        alternative = 'Moving to `ansible.module_utils.urls` would save about %.0f ms per task.' % (
            (requests_cost - urls_cost) * 1000
        )
    annotated.append(
        '- **Start-up**: importing `requests` adds %.0f ms to every module run, and'
        ' `ansible.module_utils.urls`, which `ansible.builtin.uri` imports, adds %.0f ms. Lazy imports would'
        ' not help, because every task sends a request and needs `requests`. They would only speed up'
        ' tasks that fail on their options. %s' % (requests_cost * 1000, urls_cost * 1000, alternative)
    )
    env = results['env']
    annotated.append(
        '- **Env lookup**: %d jobs in %.1f s over %d connection with the lookup, against %.1f s over %d'
        ' connections with uri. One session per lookup run already keeps the connection open, so nothing'
        ' here needs fixing.'
        % (
            env['jobs'],
            env['lookup']['median'],
            max(env['lookup']['connections']),
            env['uri']['median'],
            max(env['uri']['connections']),
        )
    )
    dest = huge['dest']
    annotated.append(
        '- **Logs**: `dest` streams the whole 1 GiB (%d bytes) with a peak RSS of %s, and'
        ' `tail_lines: 100` reads %d bytes in one range request. Both targets are met.'
        % (dest['bytes'], mib(dest['rss_kib'], 'kib'), huge['tail_lines: 100']['bytes'])
        if dest['rss_kib'] * 1024 < RSS_TARGET_MIB * MIB and huge['tail_lines: 100']['bytes'] < TAIL_TARGET_BYTES
        else '- **Logs**: `dest` peak RSS %s, `tail_lines: 100` transferred %d bytes; see the targets above.'
        % (mib(dest['rss_kib'], 'kib'), huge['tail_lines: 100']['bytes'])
    )
    return annotated


def render_report(results):
    """Return docs/benchmarks.md for the figures of one run of benchmarks/run.py."""
    lines = [
        '# Benchmarks',
        '',
        '<!-- Generated by benchmarks/run.py (make bench); edit the script, not this file. -->',
        '',
        'Figures for the modules and the `buildkite_job_env` lookup against the Buildkite API simulator',
        '(`tests/simulator/`) on 127.0.0.1, from one run of `make bench`. Requests to the simulator are',
        'cheap next to starting a module process, so wall times measure Ansible and the collection, not',
        'Buildkite. Request counts and bytes are the figures that carry over to the real API. The simulator',
        'runs with rate limits off (`benchmarks/scenarios/jobs.json`, generated by `benchmarks/scenario.py`,',
        'and the bundled `logs` scenario) and reloads its scenario before each measurement.',
        '',
        '## Machine',
        '',
    ]
    lines.extend(render_machine(results))
    sections = (
        ('Targets', render_targets),
        ('1. Requests per task', render_requests),
        ('2. Wall time: retry and unblock against ansible.builtin.uri', render_wall_time),
        ('3. The env lookup over 100 jobs against uri', render_env),
        ('4. buildkite_job_log on a 1 GiB log', render_huge_log),
        ('5. Module start-up cost', render_imports),
        ('What the figures show', render_findings),
    )
    for title, render in sections:
        lines.extend(['', '## %s' % title, ''])
        lines.extend(render(results))
    lines.extend(
        [
            '',
            '## Limits',
            '',
            '- Wall times vary from run to run, more so when other work shares the machine. The tables show',
            '  each run next to the median so that the spread is visible.',
            '- Modules in sections 1 and 4 run without AnsiballZ, so their wall times leave out the',
            "  packaging that Ansible adds to each task; section 2 includes it.",
            '- Bytes transferred count response bodies only. The real API may compress responses, which',
            '  the simulator does not.',
            '',
        ]
    )
    return '\n'.join(lines)
