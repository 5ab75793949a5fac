/**
 * `tomograph/bullmq` against the real Redis (127.0.0.1:6379). Every queue lives under a key
 * prefix of this process and run, obliterated afterwards.
 */
import { ROOT_CONTEXT, trace as otelTrace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { FlowProducer, type Job, Queue, Worker } from 'bullmq';
import { instrumentFlowProducer, instrumentQueue, tracedProcessor } from 'tomograph/bullmq';
import { codes } from '../../lib/codes';
import type { FinishedSpan } from '../../lib/types';
import { brokers, cuttableProxy, describeBroker, uniqueName } from '../helpers/brokers';
import { collectingTracer } from '../helpers/span-collector';

const connection = { host: brokers.redis.host, port: brokers.redis.port, maxRetriesPerRequest: null };

describeBroker('redis', 'tomograph/bullmq', () => {
  const prefix = uniqueName('bull');
  const queues: Queue[] = [];
  const closers: { close(): Promise<unknown> }[] = [];

  function queue(name: string): Queue {
    const q = new Queue(name, { connection, prefix });
    queues.push(q);
    return q;
  }

  function worker(name: string, processor: (job: Job) => Promise<unknown>, concurrency = 1): Worker {
    const w = new Worker(name, processor, { connection, prefix, concurrency });
    closers.push(w);
    return w;
  }

  afterAll(async () => {
    for (const c of closers) await c.close();
    for (const q of queues) {
      await q.obliterate({ force: true });
      await q.close();
    }
  });

  test('500 jobs from 50 concurrent traced requests, 4 workers: each attempt\'s span is the child of its producer span', async () => {
    const { tracer, spans, diagnostics } = collectingTracer({ maxQueueSize: 10_000 });
    const q = queue('load');
    const undo = instrumentQueue(q, { tracer });
    let left = 500;
    let resolveAll!: () => void;
    const allDone = new Promise<void>((r) => (resolveAll = r));
    const workedBy = new Set<number>();
    const workers: Worker[] = [];
    for (let i = 0; i < 4; i++) {
      const w = worker('load', tracedProcessor(async (job: Job) => {
        workedBy.add(i);
        // The processor runs inside the consumer span.
        const current = tracer.currentSpan();
        await new Promise((r) => setImmediate(r));
        if (--left === 0) resolveAll();
        return current?.traceId;
      }, { tracer }), 10);
      workers.push(w);
    }
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    await Promise.all(
      Array.from({ length: 50 }, (_, r) =>
        tracer.trace(`request ${r}`, async () => {
          if (r % 2 === 0) {
            await q.addBulk(Array.from({ length: 10 }, (_, m) => ({ name: 'job', data: { r, m } })));
          } else {
            await Promise.all(Array.from({ length: 10 }, (_, m) => q.add('job', { r, m })));
          }
        }),
      ),
    );
    await allDone;
    const consumed = await spans.waitForCount(500, (s) => s.kind === 'CONSUMER');
    const producers = new Map(spans.spans.filter((s) => s.kind === 'PRODUCER').map((s) => [s.tags['messaging.message.id'], s]));
    expect(producers.size).toBe(500);
    const requests = new Map(spans.spans.filter((s) => s.name.startsWith('request ')).map((s) => [s.id, s]));
    for (const c of consumed) {
      const p = producers.get(c.tags['messaging.message.id']) as FinishedSpan;
      expect(c.parentId).toBe(p.id);
      expect(c.traceId).toBe(p.traceId);
      expect(requests.get(p.parentId as string)).toBeDefined();
      expect(c).toMatchObject({
        name: `process load`,
        tags: { 'messaging.system': 'bullmq', 'messaging.destination.name': 'load', 'bullmq.job.name': 'job', 'bullmq.job.attempt': 1 },
      });
    }
    // Workers compete for jobs; on a loaded machine one may start fetching late, so at least two.
    expect(workedBy.size).toBeGreaterThanOrEqual(2);
    expect(tracer.stats().malformedHeaders).toBe(0);
    expect(diagnostics).toEqual([]);
    undo();
  });

  test('retries after a delay: every attempt continues the producer\'s trace, numbered, the failed ones with error', async () => {
    const { tracer, spans } = collectingTracer();
    const q = queue('retry');
    instrumentQueue(q, { tracer });
    const failure = new Error('flaky downstream');
    const thrown: unknown[] = [];
    const w = worker('retry', tracedProcessor(async (job: Job) => {
      if (job.attemptsMade < 2) throw failure;
      return 'ok';
    }, { tracer }));
    w.on('failed', (_job, error) => thrown.push(error));
    const completed = new Promise((resolve) => w.on('completed', resolve));
    await tracer.trace('request', () => q.add('flaky', { x: 1 }, { attempts: 3, backoff: { type: 'fixed', delay: 50 }, delay: 50 }));
    await completed;
    const attempts = await spans.waitForCount(3, (s) => s.kind === 'CONSUMER');
    const producer = spans.spans.find((s) => s.kind === 'PRODUCER') as FinishedSpan;
    expect(producer.tags['bullmq.job.delay_ms']).toBe(50);
    expect(attempts.map((s) => s.tags['bullmq.job.attempt'])).toEqual([1, 2, 3]);
    expect(attempts.map((s) => s.error)).toEqual(['flaky downstream', 'flaky downstream', undefined]);
    for (const a of attempts) expect(a.parentId).toBe(producer.id);
    // BullMQ got the processor's own error object each time.
    expect(thrown).toEqual([failure, failure]);
    expect(thrown[0]).toBe(failure);
  });

  test('a poisoned job whose processor throws (synchronously) fails its span and the job with that very error', async () => {
    const { tracer, spans } = collectingTracer();
    const q = queue('poison');
    instrumentQueue(q, { tracer });
    const poison = new TypeError('cannot read order.total');
    const w = worker('poison', tracedProcessor((() => {
      throw poison;
    }) as unknown as (job: Job) => Promise<unknown>, { tracer }));
    const failed = new Promise<[Job | undefined, Error]>((resolve) => w.on('failed', (job, error) => resolve([job, error])));
    await tracer.trace('request', () => q.add('bad', {}));
    const [job, error] = await failed;
    expect(error).toBe(poison);
    expect(job?.failedReason).toBe('cannot read order.total');
    const span = await spans.waitFor((s) => s.kind === 'CONSUMER');
    expect(span.error).toBe('cannot read order.total');
  });

  test('a flow keeps one trace: each job\'s span is the child of its own producer span, nested as the flow is', async () => {
    const { tracer, spans } = collectingTracer();
    const flows = new FlowProducer({ connection, prefix });
    closers.push(flows);
    queue('flow-parent');
    queue('flow-child');
    const undo = instrumentFlowProducer(flows, { tracer });
    let done = 0;
    let resolveDone!: () => void;
    const allDone = new Promise<void>((r) => (resolveDone = r));
    const processor = tracedProcessor(async () => {
      if (++done === 3) resolveDone();
    }, { tracer });
    worker('flow-parent', processor);
    worker('flow-child', processor);
    await tracer.trace('request', () =>
      flows.add({
        name: 'render',
        queueName: 'flow-parent',
        children: [
          { name: 'page', queueName: 'flow-child', data: { p: 1 } },
          { name: 'page', queueName: 'flow-child', data: { p: 2 } },
        ],
      }),
    );
    await allDone;
    const consumed = await spans.waitForCount(3, (s) => s.kind === 'CONSUMER');
    const request = spans.spans.find((s) => s.name === 'request') as FinishedSpan;
    const producers = spans.spans.filter((s) => s.kind === 'PRODUCER');
    expect(producers).toHaveLength(3);
    expect(new Set([...consumed, ...producers].map((s) => s.traceId))).toEqual(new Set([request.traceId]));
    const parentProducer = producers.find((s) => s.name === 'add flow-parent') as FinishedSpan;
    expect(parentProducer.parentId).toBe(request.id);
    for (const p of producers.filter((s) => s.name === 'add flow-child')) expect(p.parentId).toBe(parentProducer.id);
    const producerIds = new Set(producers.map((s) => s.id));
    for (const c of consumed) expect(producerIds.has(c.parentId as string)).toBe(true);
    expect(consumed.find((s) => s.name === 'process flow-parent')?.parentId).toBe(parentProducer.id);
    undo();
  });

  test('a job scheduler\'s jobs continue the trace of the call that scheduled them', async () => {
    const { tracer, spans } = collectingTracer();
    const q = queue('repeat');
    instrumentQueue(q, { tracer });
    let runs = 0;
    let resolveTwo!: () => void;
    const two = new Promise<void>((r) => (resolveTwo = r));
    worker('repeat', tracedProcessor(async () => {
      if (++runs === 2) resolveTwo();
    }, { tracer }));
    await tracer.trace('setup', () => q.upsertJobScheduler('tick', { every: 100 }, { name: 'tick', data: {} }));
    await two;
    await q.removeJobScheduler('tick');
    const [first, second] = await spans.waitForCount(2, (s) => s.kind === 'CONSUMER');
    const producer = spans.spans.find((s) => s.kind === 'PRODUCER') as FinishedSpan;
    expect(producer.tags['bullmq.job_scheduler.id']).toBe('tick');
    expect(first.parentId).toBe(producer.id);
    expect(second.parentId).toBe(producer.id);
  });

  test('malformed or hostile metadata: counted, a new root trace, the job still processed', async () => {
    const { tracer, spans } = collectingTracer();
    const q = queue('hostile');
    const hostile = [
      'not a token',
      '{"x-trace-info":"00-zz-zz-01"}',
      '{"traceparent":' + JSON.stringify('00-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01\r\n') + '}',
      '{' + 'x'.repeat(10_000),
      '{"x-trace-info":{"toString":"boom"}}',
      '00-' + '0'.repeat(32) + '-' + '1'.repeat(16) + '-01',
    ];
    let left = hostile.length;
    let resolveAll!: () => void;
    const allDone = new Promise<void>((r) => (resolveAll = r));
    worker('hostile', tracedProcessor(async () => {
      if (--left === 0) resolveAll();
      return 'fine';
    }, { tracer }));
    for (const metadata of hostile) await q.add('h', {}, { telemetry: { metadata } });
    await allDone;
    const consumed = await spans.waitForCount(hostile.length, (s) => s.kind === 'CONSUMER');
    for (const span of consumed) {
      expect(span.parentId).toBeUndefined();
      expect(span.error).toBeUndefined();
    }
    expect(tracer.stats().malformedHeaders).toBe(hostile.length);
  });

  test('Redis goes away mid-run: jobs being processed end their spans, adds wait for Redis as BullMQ makes them, nothing leaks', async () => {
    const { tracer, spans, diagnostics } = collectingTracer();
    // Through the shared connection: afterAll obliterates the queue whatever happens here.
    queue('cut');
    const proxy = await cuttableProxy(brokers.redis);
    const viaProxy = { host: '127.0.0.1', port: proxy.port, maxRetriesPerRequest: null, retryStrategy: () => 20 };
    const q = new Queue('cut', { connection: viaProxy, prefix });
    const appErrors: unknown[] = [];
    q.on('error', (error) => appErrors.push(error));
    instrumentQueue(q, { tracer });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const w = new Worker('cut', tracedProcessor(async () => {
      started();
      await gate;
      return 'done';
    }, { tracer }), { connection: viaProxy, prefix });
    w.on('error', (error) => appErrors.push(error));
    const first = await tracer.trace('before', () => q.add('j', { n: 0 }));
    await running;
    // Adds made once the client knows the connection is gone wait in its offline queue.
    const client = (await q.getBackend().client) as unknown as import('node:events').EventEmitter;
    const reconnecting = new Promise((resolve) => client.once('reconnecting', resolve));
    proxy.cut();
    await reconnecting;
    // Adds made while Redis is away wait for it, as BullMQ makes them: their spans are in flight.
    const pending = tracer.trace('during', () => Promise.all([1, 2, 3].map((n) => q.add('j', { n }))));
    release();
    const consumer = await spans.waitFor((s) => s.kind === 'CONSUMER');
    expect(consumer.error).toBeUndefined();
    let stats = tracer.stats();
    expect(stats.spansStarted - stats.spansFinished).toBe(3 + 1); // three adds and the 'during' span
    proxy.restore();
    const added = await pending;
    const producers = await spans.waitForCount(4, (s) => s.kind === 'PRODUCER');
    expect(new Set(producers.map((p) => p.tags['messaging.message.id']))).toEqual(new Set([first.id, ...added.map((j) => j.id)]));
    await w.close();
    await q.obliterate({ force: true });
    await q.close();
    await proxy.close();
    await tracer.flush();
    stats = tracer.stats();
    expect(stats.spansStarted).toBe(stats.spansFinished);
    // Whatever the connection loss raised went to the app's own listeners, as the client's errors.
    for (const error of appErrors) expect(error).toBeInstanceOf(Error);
    expect(diagnostics.filter((d) => d.code === codes.INTEGRATION_ERROR)).toEqual([]);
  });

  test('outside a span nothing is added to the job unless root: true; the caller\'s options are never changed; undo restores', async () => {
    const { tracer, spans, diagnostics } = collectingTracer();
    const q = queue('root');
    const add = q.add;
    const opts = { attempts: 1 };
    const undo = instrumentQueue(q, { tracer });
    const plain = await q.add('j', {}, opts);
    expect(plain.opts.telemetry).toBeUndefined();
    undo();
    undo();
    expect(q.add).toBe(add);
    instrumentQueue(q, { tracer, root: true });
    instrumentQueue(q, { tracer });
    expect(diagnostics.map((d) => d.code)).toEqual([codes.INTEGRATION_ERROR]);
    const rooted = await q.add('j', {}, opts);
    expect(opts).toEqual({ attempts: 1 });
    const producer = await spans.waitFor((s) => s.kind === 'PRODUCER');
    expect(producer.parentId).toBeUndefined();
    expect(JSON.parse(String(rooted.opts.telemetry?.metadata))).toMatchObject({ 'x-trace-info': `00-${producer.traceId}-${producer.id}-03` });
    const omitted = await q.add('j', {}, { telemetry: { omitContext: true } });
    expect(omitted.opts.telemetry?.metadata).toBeUndefined();
    expect(() => instrumentQueue({} as never)).toThrow(expect.objectContaining({ code: codes.INVALID_OPTION }));
    expect(() => tracedProcessor(42 as never)).toThrow(TypeError);
    expect(() => instrumentFlowProducer(q as never, { bad: true } as never)).toThrow(/unknown option "bad"/);
  });
});

// What bullmq-otel does with `opts.telemetry.metadata`: JSON of the headers OpenTelemetry's
// propagator writes, read back with the same propagator. No Redis needed: the job is a plain object.
describe('tomograph/bullmq and bullmq-otel read each other\'s job metadata', () => {
  const propagator = new W3CTraceContextPropagator();
  const getter = { get: (carrier: Record<string, string>, key: string) => carrier[key], keys: (c: Record<string, string>) => Object.keys(c) };
  const setter = { set: (carrier: Record<string, string>, key: string, value: string) => void (carrier[key] = value) };

  test('a job added by tomograph continues under OpenTelemetry', async () => {
    const { tracer, spans } = collectingTracer();
    const added: { opts?: { telemetry?: { metadata?: string } } }[] = [];
    const fakeQueue = { name: 'mail', add: async (_n: string, _d: unknown, opts: never) => (added.push({ opts }), { id: '7' }), addBulk: async () => [] };
    instrumentQueue(fakeQueue, { tracer });
    await tracer.trace('request', () => fakeQueue.add('welcome', {}, undefined as never));
    const producer = await spans.waitFor((s) => s.kind === 'PRODUCER');
    const carrier = JSON.parse(String(added[0].opts?.telemetry?.metadata)) as Record<string, string>;
    const context = propagator.extract(ROOT_CONTEXT, carrier, getter);
    expect(otelTrace.getSpanContext(context)).toMatchObject({ traceId: producer.traceId, spanId: producer.id, traceFlags: 3 });
    expect(producer.tags['messaging.message.id']).toBe('7');
  });

  test('a job added under OpenTelemetry continues in tomograph\'s processor', async () => {
    const { tracer, spans } = collectingTracer();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    const carrier: Record<string, string> = {};
    propagator.inject(otelTrace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: 1 }), carrier, setter);
    const job = { id: '9', name: 'welcome', queueName: 'mail', attemptsMade: 0, opts: { telemetry: { metadata: JSON.stringify(carrier) } } };
    const processed = await tracedProcessor(async (_job: unknown) => tracer.currentSpan()?.traceId, { tracer })(job);
    expect(processed).toBe(traceId);
    const consumer = await spans.waitFor((s) => s.kind === 'CONSUMER');
    expect(consumer).toMatchObject({ traceId, parentId: spanId, name: 'process mail' });
  });

  test('job options that throw when read: the add goes on as the app made it, the fault is reported, no span left open', async () => {
    const { tracer, diagnostics } = collectingTracer();
    const seen: unknown[] = [];
    const fakeQueue = { name: 'mail', add: async (_n: string, _d: unknown, opts: unknown) => (seen.push(opts), { id: '1' }), addBulk: async () => [] };
    instrumentQueue(fakeQueue, { tracer });
    const hostile = Object.defineProperty({}, 'telemetry', { enumerable: true, get: () => { throw new Error('hostile getter'); } });
    await tracer.trace('request', () => fakeQueue.add('x', {}, hostile as never));
    expect(seen).toEqual([hostile]);
    expect(seen[0]).toBe(hostile);
    expect(diagnostics.map((d) => d.code)).toEqual([codes.INTEGRATION_ERROR]);
    expect(tracer.stats().spansStarted).toBe(tracer.stats().spansFinished);
  });
});
