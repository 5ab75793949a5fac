/**
 * `Tracer.extractContext`: the incoming context as ids, for server integrations that pass it
 * straight to `startSpan` (no token formatted and parsed again).
 */
import { Tracer } from '../../lib/tracer';
import { MemoryExporter } from '../../lib/memory-exporter';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

describe('Tracer.extractContext', () => {
  it('reads the same context extract() formats, in the same precedence', () => {
    const tracer = new Tracer({ serviceName: 'svc', exporters: [new MemoryExporter()] });
    const cases: Record<string, string>[] = [
      { traceparent: `00-${T}-${S}-01` },
      { b3: `${T}-${S}-0` },
      { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' },
      { 'x-trace-info': `00-${T}-${S}-01`, traceparent: `00-${'1'.repeat(32)}-${S}-00` },
    ];
    for (const headers of cases) {
      const context = tracer.extractContext(headers);
      expect(context).toEqual(tracer.parseToken(tracer.extract(headers)!));
      expect(context?.traceId).toBe(T);
      expect(context?.spanId).toBe(S);
    }
    expect(tracer.extractContext({ b3: `${T}-${S}-0` })?.sampled).toBe(false);
    expect(tracer.extractContext({})).toBeUndefined();
    expect(tracer.extractContext(undefined)).toBeUndefined();
  });

  it('counts a malformed header once, like extract(); a disabled tracer reads nothing', () => {
    const tracer = new Tracer({ serviceName: 'svc', exporters: [new MemoryExporter()], onDiagnostic: () => undefined });
    expect(tracer.extractContext({ traceparent: 'garbage' })).toBeUndefined();
    expect(tracer.stats().malformedHeaders).toBe(1);
    expect(new Tracer().extractContext({ traceparent: `00-${T}-${S}-01` })).toBeUndefined();
  });

  it('as startSpan parent: the span continues the incoming trace, sampled or not', async () => {
    const memory = new MemoryExporter();
    const tracer = new Tracer({ serviceName: 'svc', exporters: [memory], scheduledDelayMs: 0 });
    const span = tracer.startSpan('GET', { kind: 'SERVER', parent: tracer.extractContext({ traceparent: `00-${T}-${S}-01` }) });
    span.end();
    const unsampled = tracer.startSpan('GET', { parent: tracer.extractContext({ traceparent: `00-${T}-${S}-00` }) });
    expect(unsampled.recording).toBe(false);
    expect(unsampled.traceId).toBe(T);
    await tracer.flush();
    expect(memory.spans).toHaveLength(1);
    expect(memory.spans[0].traceId).toBe(T);
    expect(memory.spans[0].parentId).toBe(S);
  });
});
