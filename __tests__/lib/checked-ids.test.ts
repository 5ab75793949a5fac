/**
 * `hasCheckedIds(span)`: which spans an exporter may take the ids of without checking
 * them again. Only ids from the tracer's own generator or its header parser qualify.
 */
import { Tracer } from '../../lib/tracer';
import { MemoryExporter } from '../../lib/memory-exporter';
import { sequentialIdGenerator } from '../../lib/ids';
import { hasCheckedIds, RecordingSpan, type Span } from '../../lib/span';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

function tracer(options: ConstructorParameters<typeof Tracer>[0] = {}): Tracer {
  return new Tracer({ serviceName: 'svc', exporters: [new MemoryExporter()], onDiagnostic: () => undefined, ...options });
}

function checked(span: Span): boolean {
  expect(span).toBeInstanceOf(RecordingSpan);
  return hasCheckedIds(span);
}

describe('hasCheckedIds', () => {
  it('is true for roots, their children, and spans continuing a parsed header or token', () => {
    const t = tracer();
    const root = t.startSpan('root');
    expect(checked(root)).toBe(true);
    expect(checked(t.startSpan('child', { parent: root }))).toBe(true);
    expect(checked(t.startSpan('from header', { parent: t.extractContext({ traceparent: `00-${T}-${S}-01` }) }))).toBe(true);
    expect(checked(t.startSpan('from b3', { parent: t.extractContext({ b3: `${T.slice(16)}-${S}` }) }))).toBe(true);
    expect(checked(t.startSpan('from token', { parent: `00-${T}-${S}-01` }))).toBe(true);
    const parsed = t.parseToken(`00-${T}-${S}-01`);
    expect(checked(t.startSpan('from parseToken', { parent: parsed }))).toBe(true);
  });

  it('is false for a context the caller built or changed, and for a foreign parent span', () => {
    const t = tracer();
    expect(checked(t.startSpan('own context', { parent: { traceId: T, spanId: S, sampled: true } }))).toBe(false);
    const parsed = t.extractContext({ traceparent: `00-${T}-${S}-01` })!;
    parsed.spanId = 'NOT-HEX';
    const child = t.startSpan('changed context', { parent: parsed });
    expect(checked(child)).toBe(false);
    expect(checked(t.startSpan('grandchild', { parent: child }))).toBe(false);
    const foreign: Span = { ...t.startSpan('x'), traceId: T, id: S, sampled: true, recording: true } as Span;
    expect(checked(t.startSpan('foreign parent', { parent: foreign }))).toBe(false);
  });

  it('is false for every span when the ids come from a caller-supplied generator', () => {
    const t = tracer({ idGenerator: sequentialIdGenerator() });
    const root = t.startSpan('root');
    expect(checked(root)).toBe(false);
    expect(checked(t.startSpan('child', { parent: root }))).toBe(false);
  });

  it('keeps parsed contexts looking like plain ones', () => {
    const parsed = tracer().parseToken(`00-${T}-${S}-01`);
    expect(Object.keys(parsed!)).toEqual(['traceId', 'spanId', 'sampled']);
    expect(JSON.parse(JSON.stringify(parsed))).toEqual({ traceId: T, spanId: S, sampled: true });
  });
});
