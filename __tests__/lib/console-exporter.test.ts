import { ManualClock } from '../../lib/clock';
import { ConsoleExporter, type ConsoleExporterOptions } from '../../lib/console-exporter';
import { sequentialIdGenerator } from '../../lib/ids';
import { renderTraceTree } from '../../lib/trace-tree';
import type { Span } from '../../lib/span';
import { Tracer } from '../../lib/tracer';
import type { FinishedSpan } from '../../lib/types';

/** A span the tracer made and ended, as exporters see it. */
function finished(span: Span): FinishedSpan {
  return span as unknown as FinishedSpan;
}

function setup(options: ConsoleExporterOptions = {}) {
  const output: string[] = [];
  const clock = new ManualClock(1_000_000);
  const exporter = new ConsoleExporter({ write: (text) => output.push(text), ...options });
  const tracer = new Tracer({
    serviceName: 'shop',
    exporters: [exporter],
    scheduledDelayMs: 0,
    clock,
    idGenerator: sequentialIdGenerator(),
    host: { address: '127.0.0.1' },
  });
  return { tracer, clock, output, exporter };
}

/** A request with two children, one failing, a note, a tag; 1 ms steps on the manual clock. */
function request(tracer: Tracer, clock: ManualClock): void {
  tracer.trace('GET /cart', (root) => {
    root.tag('http.status_code', 200);
    clock.advance(1000);
    tracer.trace('load cart', () => {
      clock.advance(2000);
      tracer.annotate('cache miss');
      clock.advance(500);
    }, { kind: 'CLIENT' });
    try {
      tracer.trace('price', () => {
        clock.advance(250);
        throw new Error('no price');
      });
    } catch {
      clock.advance(250);
    }
  }, { kind: 'SERVER' });
}

describe('ConsoleExporter', () => {
  it('prints a finished trace once, as a tree with durations, notes and failures', async () => {
    const { tracer, clock, output } = setup();
    request(tracer, clock);
    await tracer.flush();
    expect(output).toHaveLength(1);
    expect(output[0]).toBe(
      [
        'trace 00000000000000000000000000000001',
        'GET /cart [shop] server  4.00 ms at +0.00 ms',
        '├─ load cart [shop] client  2.50 ms at +1.00 ms',
        '│     · cache miss at +3.00 ms',
        '└─ price [shop]  0.25 ms at +3.50 ms  ✗ no price',
        '      · error at +3.75 ms',
      ].join('\n') + '\n\n',
    );
  });

  it('shows tags when asked, and leaves services out when asked', async () => {
    const { tracer, clock, output } = setup({ tags: true, services: false });
    request(tracer, clock);
    await tracer.flush();
    expect(output[0]).toContain('GET /cart server  4.00 ms');
    expect(output[0]).not.toContain('[shop]');
    expect(output[0]).toContain('http.status_code=200');
  });

  it('waits for the local root: children exported earlier print with it', async () => {
    jest.useFakeTimers();
    try {
      const { tracer, output, exporter } = setup();
      const exported = jest.spyOn(exporter, 'export');
      const root = tracer.startSpan('long request');
      tracer.withSpan(root, () => tracer.trace('early child', () => undefined));
      await jest.advanceTimersByTimeAsync(0); // the batch timer (scheduledDelayMs 0) fires
      expect(exported).toHaveBeenCalledTimes(1);
      expect(output).toEqual([]);
      root.end();
      await jest.advanceTimersByTimeAsync(0);
      expect(output).toHaveLength(1);
      expect(output[0]).toMatch(/long request[^\n]*\n└─ early child/);
    } finally {
      jest.useRealTimers();
    }
  });

  it('an explicit flush prints what waits, even without its root', async () => {
    const { tracer, output } = setup();
    const root = tracer.startSpan('still running');
    tracer.withSpan(root, () => tracer.trace('done child', () => undefined));
    await tracer.flush();
    expect(output).toHaveLength(1);
    expect(output[0]).toContain('done child');
    expect(output[0]).not.toContain('still running');
    root.end();
  });

  it('a trace whose root is in another process prints at its local root', async () => {
    const { tracer, output } = setup();
    tracer.trace('handler', () => tracer.trace('step', () => undefined), {
      parent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    await tracer.flush();
    expect(output).toHaveLength(1);
    expect(output[0]).toMatch(/^trace 0af7651916cd43dd8448eb211c80319c\nhandler/);
  });

  it('flush() prints traces still waiting for their root; the wait is bounded', async () => {
    const output: string[] = [];
    const exporter = new ConsoleExporter({ write: (text) => output.push(text), maxPendingTraces: 2 });
    const { tracer } = setup();
    const roots = ['a', 'b', 'c'].map((name) => tracer.startSpan(name));
    const orphans = roots.map((root, i) => tracer.startSpan(`child ${i}`, { parent: root }));
    orphans.forEach((span) => span.end());
    exporter.export(orphans.map(finished));
    expect(output).toHaveLength(1); // three pending, bound 2: the oldest printed as it stands
    expect(output[0]).toContain('child 0');
    await exporter.flush();
    expect(output).toHaveLength(3);
    roots.forEach((root) => root.end());
  });

  it('writes to stdout by default', async () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const exporter = new ConsoleExporter();
      const { tracer } = setup();
      const span = tracer.startSpan('to stdout');
      span.end();
      exporter.export([finished(span)]);
      expect(write).toHaveBeenCalledTimes(1);
      expect(String(write.mock.calls[0][0])).toContain('to stdout');
    } finally {
      write.mockRestore();
    }
  });
});

describe('renderTraceTree', () => {
  it('gives nothing for no spans', () => {
    expect(renderTraceTree([])).toBe('');
  });
});
