import { randomIdGenerator, sequentialIdGenerator } from '../../lib/ids';
import { testTracer } from '../helpers/core-fixtures';

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

describe('random ids', () => {
  it('are lower-case hex of the right length and never all zeros', () => {
    const ids = randomIdGenerator();
    for (let i = 0; i < 2000; i++) {
      const traceId = ids.traceId();
      const spanId = ids.spanId();
      expect(traceId).toMatch(TRACE_ID);
      expect(spanId).toMatch(SPAN_ID);
      expect(traceId).not.toBe('0'.repeat(32));
      expect(spanId).not.toBe('0'.repeat(16));
    }
  });

  it('are unique over 100,000 of each, also when span and trace ids interleave', () => {
    const ids = randomIdGenerator();
    const spanIds = new Set<string>();
    const traceIds = new Set<string>();
    for (let i = 0; i < 100_000; i++) {
      spanIds.add(ids.spanId());
      traceIds.add(ids.traceId());
    }
    expect(spanIds.size).toBe(100_000);
    expect(traceIds.size).toBe(100_000);
  });

  it('two generators do not repeat each other', () => {
    const a = randomIdGenerator();
    const b = randomIdGenerator();
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      seen.add(a.spanId());
      seen.add(b.spanId());
    }
    expect(seen.size).toBe(20_000);
  });

  it('skip an all-zero draw from the random source', () => {
    jest.isolateModules(() => {
      let calls = 0;
      jest.doMock('node:crypto', () => {
        const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
        return {
          ...actual,
          // The first 4 KiB pool is all zeros, as a broken or hostile source might give.
          randomFillSync: <T extends NodeJS.ArrayBufferView>(buffer: T): T =>
            calls++ === 0 ? (Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength).fill(0), buffer) : actual.randomFillSync(buffer),
        };
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { randomIdGenerator: isolated } = require('../../lib/ids') as typeof import('../../lib/ids');
      const ids = isolated();
      const traceId = ids.traceId();
      expect(traceId).toMatch(TRACE_ID);
      expect(traceId).not.toBe('0'.repeat(32));
      expect(ids.spanId()).not.toBe('0'.repeat(16));
      expect(calls).toBeGreaterThanOrEqual(2);
    });
    jest.dontMock('node:crypto');
  });

  it('a tracer gives every span of 20,000 its own id', async () => {
    const { tracer, spans } = testTracer();
    for (let i = 0; i < 200; i++) {
      tracer.trace('root', () => {
        for (let j = 0; j < 99; j++) tracer.trace('child', () => undefined);
      });
    }
    const exported = await spans();
    expect(exported).toHaveLength(20_000);
    expect(new Set(exported.map((span) => span.id)).size).toBe(20_000);
    expect(new Set(exported.map((span) => span.traceId)).size).toBe(200);
  });
});

describe('sequential ids', () => {
  it('count up from 1 in the right formats', () => {
    const ids = sequentialIdGenerator();
    expect(ids.traceId()).toBe('00000000000000000000000000000001');
    expect(ids.spanId()).toBe('0000000000000002');
    expect(ids.spanId()).toMatch(SPAN_ID);
  });
});
