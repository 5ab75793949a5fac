import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry } from 'tomograph/metrics';
import { renderHostStatsText } from 'tomograph/host-stats';
import { parseArgs } from '../../bin/tomograph-stats';
import { mergeProcessStats, metricsTree } from '../../exporters/host-stats-merge';
import { formatValue } from '../../exporters/host-stats-text';
import { mergeHistogramStates, summarizeHistogramState } from 'tomograph/metrics';

describe('tomograph-stats arguments', () => {
  test('flags, inline values, defaults', () => {
    expect(parseArgs([])).toEqual({ dirs: undefined, format: 'text', watchSeconds: undefined, timeoutMs: 500 });
    expect(parseArgs(['--dir', '/x', '--format=json', '--watch', '2', '--timeout', '100'])).toEqual({
      dirs: [{ name: '/x', dir: '/x' }], format: 'json', watchSeconds: 2, timeoutMs: 100,
    });
    expect(parseArgs(['--service', 'shop'])).toMatchObject({ dirs: [{ name: 'shop', dir: join(tmpdir(), 'tomograph-stats', 'shop') }] });
  });

  test('wrong arguments are explained', () => {
    expect(parseArgs(['--format', 'yaml'])).toBe('--format must be json, text or prometheus');
    expect(parseArgs(['--watch', '0'])).toBe('--watch needs a number of seconds above 0');
    expect(parseArgs(['--dir'])).toBe('--dir needs a directory');
    expect(parseArgs(['--verbose'])).toBe('unknown argument --verbose');
    expect(parseArgs(['--help'])).toBe('');
  });
});

describe('the text format', () => {
  test('units read at a glance', () => {
    expect(formatValue(0.25, 'ms')).toBe('250 µs');
    expect(formatValue(12.345, 'ms')).toBe('12.3 ms');
    expect(formatValue(1500, 'ms')).toBe('1.5 s');
    expect(formatValue(90000, 'ms')).toBe('1.5 min');
    expect(formatValue(3 * 1024 * 1024, 'bytes')).toBe('3 MiB');
    expect(formatValue(1234567, undefined)).toBe('1,234,567');
    expect(formatValue(0.00001, undefined)).toBe('1.00e-5');
  });

  test('an aligned tree: paths indented, values right-aligned in columns, histograms on one line', () => {
    const registry = new MetricsRegistry({ clock: () => 1000 });
    registry.counter('web.requests').inc(12345);
    registry.counter('web.requests_failed').inc(7);
    registry.gauge('db.pool.size').set(8);
    const h = registry.histogram('web.latency', { unit: 'ms' });
    for (let i = 1; i <= 100; i++) h.record(i);
    const { metrics } = mergeProcessStats(
      [{ v: 1, pid: 7, startedAtMs: 1, service: 's', metrics: registry.collect(), gauges: {} }],
      undefined, { mergeHistogramStates, summarizeHistogramState }, () => undefined,
    );
    const text = renderHostStatsText({
      processes: 1, pids: [7], skipped: [{ pid: 9, reason: 'timeout', detail: 'no answer in 500 ms' }], removedSockets: 1, ignoredFiles: 0,
      retiredProcesses: 0, conflicts: [], metrics, stats: metricsTree(metrics), timestampMs: 0, dir: '/d',
    }, { title: 'shop' });
    const lines = text.split('\n');
    expect(lines[7]).toMatch(/^ {4}latency \(ms\) {5}n 100 {2}mean 50\.5 ms {2}p50 (49|50)(\.\d)? ms {2}p95 9\d\.\d ms {2}p99 \d+(\.\d)? ms {2}max 100 ms$/);
    lines[7] = '<latency>';
    expect(lines).toEqual([
      'shop: 1 process (pid 7)',
      '  ! pid 9 skipped: timeout (no answer in 500 ms)',
      '  (1 dead process socket removed)',
      '  db',
      '    pool',
      '      size                8',
      '  web',
      '<latency>',
      '    requests         12,345',
      '    requests_failed       7',
      '',
    ]);
  });
});
