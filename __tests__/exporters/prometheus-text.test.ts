import {
  escapeHelp, escapeLabelValue, formatSampleValue, PrometheusRenderer, prometheusLabelName, prometheusName, renderPrometheus,
} from '../../exporters/prometheus-text';
import type { CollectedMetric, HistogramSnapshot } from '../../lib/metrics/types';
import { havePrometheus, promtoolCheck } from '../helpers/prometheus-server';

const FULL: HistogramSnapshot = {
  count: 10, sum: 55, min: 1, max: 10, mean: 5.5, stddev: 2.87, p50: 5, p75: 8, p95: 10, p98: 10, p99: 10, p999: 10,
};

function metric(partial: Partial<CollectedMetric> & Pick<CollectedMetric, 'name' | 'type' | 'series'>): CollectedMetric {
  return { description: '', labelNames: [], level: 'info', ...partial };
}

const SAMPLE: CollectedMetric[] = [
  metric({ name: 'web.requests', type: 'counter', description: 'Requests served', labelNames: ['route', 'status'], series: [
    { labelValues: ['/users/:id', '200'], value: 41 },
    { labelValues: ['/users/:id', '500'], value: 2 },
  ] }),
  metric({ name: 'web.in_flight', type: 'gauge', series: [{ labelValues: [], value: 3 }] }),
  metric({ name: 'web.latency', type: 'histogram', unit: 'ms', description: 'Request latency', series: [{ labelValues: [], value: FULL }] }),
  metric({ name: 'jobs.idle', type: 'histogram', series: [{ labelValues: [], value: { count: 4, sum: 9 } }] }),
  metric({ name: 'queue.consumed', type: 'meter', series: [{ labelValues: [], value: { count: 7, mean: 1, m1: 0.5, m5: 0.2, m15: 0.1 } }] }),
];

describe('names and escaping', () => {
  test('metric names: characters outside [a-zA-Z0-9_:] become _, a leading digit is prefixed', () => {
    expect(prometheusName('web.requests')).toBe('web_requests');
    expect(prometheusName('GET /users/:id')).toBe('GET__users_:id');
    expect(prometheusName('9lives.é')).toBe('_9lives__');
    expect(prometheusName('')).toBe('_');
  });

  test('label names: no colon, no leading digit, no reserved __ prefix', () => {
    expect(prometheusLabelName('http.status')).toBe('http_status');
    expect(prometheusLabelName('a:b')).toBe('a_b');
    expect(prometheusLabelName('1st')).toBe('_1st');
    expect(prometheusLabelName('__name__')).toBe('_name__');
  });

  test('label values escape \\, " and line feeds; HELP escapes \\ and line feeds only', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp('say "hi"\\\nbye')).toBe('say "hi"\\\\\\nbye');
  });

  test('values: NaN, +Inf, -Inf, and numbers as written', () => {
    expect([NaN, Infinity, -Infinity, 0.1, 1e21, -3].map(formatSampleValue)).toEqual(['NaN', '+Inf', '-Inf', '0.1', '1e+21', '-3']);
  });
});

describe('renderPrometheus', () => {
  test('counters with _total, gauges, histograms as summaries, meters as counters, HELP always', () => {
    expect(renderPrometheus(SAMPLE)).toBe(
      [
        '# HELP web_requests_total Requests served',
        '# TYPE web_requests_total counter',
        'web_requests_total{route="/users/:id",status="200"} 41',
        'web_requests_total{route="/users/:id",status="500"} 2',
        '# HELP web_in_flight web.in_flight',
        '# TYPE web_in_flight gauge',
        'web_in_flight 3',
        '# HELP web_latency Request latency [ms]',
        '# TYPE web_latency summary',
        'web_latency{quantile="0.5"} 5',
        'web_latency{quantile="0.75"} 8',
        'web_latency{quantile="0.95"} 10',
        'web_latency{quantile="0.98"} 10',
        'web_latency{quantile="0.99"} 10',
        'web_latency{quantile="0.999"} 10',
        'web_latency_sum 55',
        'web_latency_count 10',
        // An empty window: no quantile lines, never 0 or NaN; sum and count stay.
        '# HELP jobs_idle jobs.idle',
        '# TYPE jobs_idle summary',
        'jobs_idle_sum 9',
        'jobs_idle_count 4',
        '# HELP queue_consumed_total queue.consumed',
        '# TYPE queue_consumed_total counter',
        'queue_consumed_total 7',
        '',
      ].join('\n'),
    );
  });

  test('labelled summaries put quantile after the labels; a label called quantile is renamed', () => {
    const text = renderPrometheus([
      metric({ name: 'db.query', type: 'histogram', labelNames: ['op', 'quantile'], series: [{ labelValues: ['select', 'x'], value: FULL }] }),
    ]);
    expect(text).toContain('db_query{op="select",quantile_2="x",quantile="0.5"} 5\n');
    expect(text).toContain('db_query_count{op="select",quantile_2="x"} 10\n');
  });

  test('a name that collides once sanitised is left out and named in a comment', () => {
    const renderer = new PrometheusRenderer([
      metric({ name: 'a.b', type: 'gauge', series: [{ labelValues: [], value: 1 }] }),
      metric({ name: 'a_b', type: 'gauge', series: [{ labelValues: [], value: 2 }] }),
      metric({ name: 'lat', type: 'histogram', series: [{ labelValues: [], value: FULL }] }),
      metric({ name: 'lat.count', type: 'gauge', series: [{ labelValues: [], value: 3 }] }),
    ]);
    const text = renderer.next();
    expect(renderer.skipped.map((s) => s.name)).toEqual(['a_b', 'lat.count']);
    expect(text).toContain('a_b 1\n');
    expect(text).not.toContain('a_b 2');
    expect(text).not.toContain('lat_count 3');
    expect(text).toMatch(/^# tomograph: left out a_b: its name a_b is already taken by a\.b$/m);
  });

  test('hostile names, descriptions and label values cannot break a line', () => {
    const text = renderPrometheus([
      metric({
        name: 'evil\nmetric 1\n# TYPE x counter', type: 'counter', description: 'line one\nfake_metric 1', labelNames: ['l\n'],
        series: [{ labelValues: ['"} 1\nfake{a="'], value: 1 }],
      }),
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('# HELP evil_metric_1___TYPE_x_counter_total line one\\nfake_metric 1');
    expect(lines[2]).toBe('evil_metric_1___TYPE_x_counter_total{l_="\\"} 1\\nfake{a=\\""} 1');
  });

  test('next(maxSeries) writes the same text in pieces, splitting a large family', () => {
    const big = metric({
      name: 'big', type: 'gauge', labelNames: ['i'],
      series: Array.from({ length: 25 }, (_, i) => ({ labelValues: [String(i)], value: i })),
    });
    const metrics = [...SAMPLE, big, ...SAMPLE.map((m) => ({ ...m, name: 'again.' + m.name }))];
    const whole = renderPrometheus(metrics);
    const renderer = new PrometheusRenderer(metrics);
    const pieces: string[] = [];
    while (!renderer.done) pieces.push(renderer.next(10));
    expect(pieces.join('')).toBe(whole);
    expect(pieces.length).toBe(4); // 37 series, 10 a piece
    expect(renderer.next(10)).toBe('');
  });

  const check = havePrometheus() ? test : test.skip;
  check('promtool check metrics accepts it, lint included', () => {
    const metrics: CollectedMetric[] = [
      ...SAMPLE,
      metric({ name: 'odd name.é', type: 'gauge', description: 'back\\slash "quoted"\nnew line', labelNames: ['k'],
        series: [{ labelValues: ['v "q" \\ \n <script>'], value: NaN }, { labelValues: ['inf'], value: Infinity }] }),
      metric({ name: 'empty', type: 'counter', labelNames: ['a'], series: [] }),
    ];
    const result = promtoolCheck(renderPrometheus(metrics));
    expect(result).toEqual({ code: 0, output: '' });
  });
});
