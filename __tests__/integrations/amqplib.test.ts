/**
 * `instrumentAmqplib` against the real RabbitMQ (127.0.0.1:5672, guest/guest). Every queue and
 * exchange is named after this process and run, and deleted afterwards.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import amqplib from 'amqplib';
import ts from 'typescript';
import callbackApi from 'amqplib/callback_api';
import { instrumentAmqplib } from 'tomograph/amqplib';
import { codes } from '../../lib/codes';
import type { FinishedSpan } from '../../lib/types';
import { amqpUrl, brokers, cuttableProxy, describeBroker, uniqueName } from '../helpers/brokers';
import { collectingTracer } from '../helpers/span-collector';

type Connection = Awaited<ReturnType<typeof amqplib.connect>>;
type Channel = Awaited<ReturnType<Connection['createChannel']>>;
type Message = NonNullable<Parameters<Parameters<Channel['consume']>[1]>[0]>;

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** lib/ and the amqplib integration transpiled into a temp directory, for a child process. */
function compileForChild(): string {
  const root = path.join(__dirname, '..', '..');
  const out = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'tomograph-amqplib-'));
  for (const [folder, keep] of [['lib', () => true], ['integrations', (f: string) => /^(amqplib|messaging-)/.test(f)]] as const) {
    fs.mkdirSync(path.join(out, folder));
    for (const file of fs.readdirSync(path.join(root, folder))) {
      if (!file.endsWith('.ts') || !keep(file)) continue;
      const { outputText } = ts.transpileModule(fs.readFileSync(path.join(root, folder, file), 'utf8'), {
        fileName: file,
        compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, esModuleInterop: true },
      });
      fs.writeFileSync(path.join(out, folder, file.replace(/\.ts$/, '.js')), outputText);
    }
  }
  return out;
}

describeBroker('rabbitmq', 'instrumentAmqplib', () => {
  let connection: Connection;
  let admin: Channel;
  const queues: string[] = [];
  const exchanges: string[] = [];

  beforeAll(async () => {
    connection = await amqplib.connect(amqpUrl());
    admin = await connection.createChannel();
  });

  afterAll(async () => {
    for (const q of queues) await admin.deleteQueue(q);
    for (const e of exchanges) await admin.deleteExchange(e);
    await connection.close();
  });

  async function freshQueue(what: string): Promise<string> {
    const name = uniqueName(what);
    await admin.assertQueue(name, { durable: false });
    queues.push(name);
    return name;
  }

  /** Resolves when `count` calls of the returned `hit()` have happened. */
  function countdown(count: number): { hit: () => void; done: Promise<void> } {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    let left = count;
    return { hit: () => (--left === 0 ? resolve() : undefined), done };
  }

  test('500 messages from 50 concurrent traced requests, 4 consumers: each consumer span is the child of its producer span', async () => {
    const { tracer, spans, diagnostics } = collectingTracer({ maxQueueSize: 10_000 });
    const exchange = uniqueName('fanin');
    exchanges.push(exchange);
    await admin.assertExchange(exchange, 'direct', { durable: false });
    const queue = await freshQueue('load');
    await admin.bindQueue(queue, exchange, 'work');

    const publisher = await connection.createConfirmChannel();
    const undoPublisher = instrumentAmqplib(publisher, { tracer });
    const consumers: Channel[] = [];
    const undos: (() => void)[] = [];
    const all = countdown(500);
    const seenBy = new Map<string, number>();
    for (let i = 0; i < 4; i++) {
      const ch = await connection.createChannel();
      await ch.prefetch(25);
      undos.push(instrumentAmqplib(ch, { tracer }));
      consumers.push(ch);
      await ch.consume(queue, async (msg: Message | null) => {
        if (msg === null) return;
        // The handler runs inside the consumer span: its trace is the producer's.
        const current = tracer.currentSpan();
        seenBy.set(String(msg.properties.messageId), i);
        expect(current?.traceId).toBe(tracer.parseToken(String(msg.properties.headers?.['x-trace-info']))?.traceId);
        await tick();
        ch.ack(msg);
        all.hit();
      });
    }

    const requests = Array.from({ length: 50 }, (_, r) =>
      tracer.trace(`request ${r}`, async () => {
        for (let m = 0; m < 10; m++) {
          publisher.publish(exchange, 'work', Buffer.from(`m${r}-${m}`), { messageId: `m${r}-${m}` });
          await tick();
        }
        await publisher.waitForConfirms();
      }),
    );
    await Promise.all(requests);
    await all.done;
    await tracer.flush();

    const producers = spans.spans.filter((s) => s.kind === 'PRODUCER');
    const consumed = spans.spans.filter((s) => s.kind === 'CONSUMER');
    expect(producers).toHaveLength(500);
    expect(consumed).toHaveLength(500);
    const producerByMessage = new Map(producers.map((s) => [s.tags['messaging.message.id'], s]));
    const requestsById = new Map(spans.spans.filter((s) => s.name.startsWith('request ')).map((s) => [s.id, s]));
    for (const c of consumed) {
      const p = producerByMessage.get(c.tags['messaging.message.id']) as FinishedSpan;
      expect(c.parentId).toBe(p.id);
      expect(c.traceId).toBe(p.traceId);
      // The producer is the child of the request that published it.
      const request = requestsById.get(p.parentId as string) as FinishedSpan;
      expect(request.name).toBe(`request ${String(c.tags['messaging.message.id']).slice(1).split('-')[0]}`);
      expect(c).toMatchObject({
        name: `process ${queue}`,
        remote: { service: 'rabbitmq', address: '127.0.0.1', port: brokers.rabbitmq.port },
        tags: {
          'messaging.system': 'rabbitmq',
          'messaging.operation.type': 'process',
          'messaging.destination.name': exchange,
          'messaging.rabbitmq.destination.routing_key': 'work',
          'messaging.rabbitmq.queue': queue,
          'messaging.rabbitmq.message.redelivered': false,
        },
      });
      expect(c.error).toBeUndefined();
    }
    expect(producers[0]).toMatchObject({ name: `publish ${exchange}`, tags: { 'messaging.operation.type': 'send' } });
    // Four consumers shared the work.
    expect(new Set(seenBy.values()).size).toBe(4);
    expect(tracer.stats()).toMatchObject({ malformedHeaders: 0 });
    expect(tracer.stats().spansStarted).toBe(tracer.stats().spansFinished);
    expect(diagnostics).toEqual([]);

    undoPublisher();
    for (const undo of undos) undo();
    for (const ch of consumers) await ch.close();
    await publisher.close();
  });

  test('a nacked message is redelivered: two consumer spans under the one producer span, the first failed, the second marked redelivered', async () => {
    const { tracer, spans } = collectingTracer();
    const queue = await freshQueue('redeliver');
    const ch = await connection.createChannel();
    const undo = instrumentAmqplib(ch, { tracer });
    const twice = countdown(2);
    await ch.consume(queue, (msg: Message | null) => {
      if (msg === null) return;
      if (!msg.fields.redelivered) ch.nack(msg, false, true);
      else ch.ack(msg);
      twice.hit();
    });
    await tracer.trace('request', () => ch.sendToQueue(queue, Buffer.from('again')));
    await twice.done;
    const [first, second] = await spans.waitForCount(2, (s) => s.kind === 'CONSUMER');
    const producer = spans.spans.find((s) => s.kind === 'PRODUCER') as FinishedSpan;
    expect(producer.name).toBe(`publish ${queue}`);
    expect(producer.tags['messaging.destination.name']).toBe('');
    expect(first.parentId).toBe(producer.id);
    expect(second.parentId).toBe(producer.id);
    expect(first).toMatchObject({ error: 'message nacked', tags: { 'messaging.rabbitmq.requeue': true, 'messaging.rabbitmq.message.redelivered': false } });
    expect(second.error).toBeUndefined();
    expect(second.tags['messaging.rabbitmq.message.redelivered']).toBe(true);
    undo();
    await ch.close();
  });

  test('a poisoned message: the handler\'s error reaches amqplib unchanged and fails the span; a reject ends it too', async () => {
    const { tracer, spans } = collectingTracer();
    const queue = await freshQueue('poison');
    const ch = await connection.createChannel();
    const undo = instrumentAmqplib(ch, { tracer });
    const poison = new Error('cannot parse order');
    const handlerErrors: unknown[] = [];
    const thrown = countdown(1);
    // amqplib's own hook for handlers that throw: it receives the very error the handler threw.
    ch.on('handler-error', (error: unknown) => {
      handlerErrors.push(error);
      thrown.hit();
    });
    let deliveries = 0;
    await ch.consume(queue, (msg: Message | null) => {
      if (msg === null) return;
      deliveries++;
      if (deliveries === 1) throw poison;
      ch.reject(msg, false);
    });
    await tracer.trace('request', () => ch.sendToQueue(queue, Buffer.from('{')));
    await thrown.done;
    expect(handlerErrors).toEqual([poison]);
    expect(handlerErrors[0]).toBe(poison);
    const failed = await spans.waitFor((s) => s.kind === 'CONSUMER');
    expect(failed.error).toBe('cannot parse order');
    expect(failed.notes.map((n) => n.value)).toContain('error');
    // The unacked message comes back when its channel goes; the next consumer rejects it for good.
    undo();
    await ch.close();
    const ch2 = await connection.createChannel();
    const undo2 = instrumentAmqplib(ch2, { tracer });
    await ch2.consume(queue, (msg: Message | null) => {
      if (msg !== null) ch2.reject(msg, false);
    });
    const [, rejected] = await spans.waitForCount(2, (s) => s.kind === 'CONSUMER');
    expect(rejected).toMatchObject({ error: 'message rejected', tags: { 'messaging.rabbitmq.requeue': false, 'messaging.rabbitmq.message.redelivered': true } });
    expect(rejected.parentId).toBe(failed.parentId);
    undo2();
    await ch2.close();
  });

  test('an async handler that rejects: the span fails, and the rejection stays unhandled, with the handler\'s own error', async () => {
    // In a child process: Jest would take the unhandled rejection for its own failure.
    const dir = compileForChild();
    try {
      const child = spawn(process.execPath, [path.join(__dirname, '..', 'fixtures', 'amqplib-unhandled.js')], {
        env: { ...process.env, TOMOGRAPH_TEST_LIB: dir, AMQP_URL: amqpUrl() },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const code = await new Promise((resolve) => child.on('close', resolve));
      expect(JSON.parse(out)).toEqual({ sameError: true, spanError: 'async boom' });
      expect(code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('noAck consumers: the span ends when the handler settles', async () => {
    const { tracer, spans } = collectingTracer();
    const queue = await freshQueue('noack');
    const ch = await connection.createChannel();
    const undo = instrumentAmqplib(ch, { tracer });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const handled = countdown(1);
    await ch.consume(queue, async () => {
      await released;
      tracer.annotate('worked');
      handled.hit();
    }, { noAck: true });
    await tracer.trace('request', () => ch.sendToQueue(queue, Buffer.from('x')));
    // Nothing is exported while the handler is still waiting.
    await tick();
    expect(spans.spans.filter((s) => s.kind === 'CONSUMER')).toEqual([]);
    release();
    await handled.done;
    const span = await spans.waitFor((s) => s.kind === 'CONSUMER');
    expect(span.notes.map((n) => n.value)).toEqual(['worked']);
    undo();
    await ch.close();
  });

  test('ack with allUpTo ends every span up to it; nackAll the rest; an ack after the handler returned ends its span then', async () => {
    const { tracer, spans } = collectingTracer();
    const queue = await freshQueue('allupto');
    const ch = await connection.createChannel();
    await ch.prefetch(10);
    const undo = instrumentAmqplib(ch, { tracer });
    const received: Message[] = [];
    const six = countdown(6);
    await ch.consume(queue, (msg: Message | null) => {
      if (msg === null) return;
      // Acked later, from outside the handler: the span waits for it.
      received.push(msg);
      six.hit();
    });
    await tracer.trace('request', () => {
      for (let i = 0; i < 6; i++) ch.sendToQueue(queue, Buffer.from(String(i)), { messageId: String(i) });
    });
    await six.done;
    await tick();
    expect(spans.spans.filter((s) => s.kind === 'CONSUMER')).toEqual([]);
    ch.ack(received[3], true);
    const acked = await spans.waitForCount(4, (s) => s.kind === 'CONSUMER');
    expect(acked.map((s) => s.tags['messaging.message.id']).sort()).toEqual(['0', '1', '2', '3']);
    expect(acked.every((s) => s.error === undefined)).toBe(true);
    ch.nackAll(false);
    const all = await spans.waitForCount(6, (s) => s.kind === 'CONSUMER');
    const nacked = all.filter((s) => s.error !== undefined);
    expect(nacked.map((s) => s.tags['messaging.message.id']).sort()).toEqual(['4', '5']);
    expect(nacked[0]).toMatchObject({ error: 'message nacked', tags: { 'messaging.rabbitmq.requeue': false } });
    expect(tracer.stats().spansStarted).toBe(tracer.stats().spansFinished);
    undo();
    await ch.close();
  });

  test('headers just under amqplib\'s 64 KiB limit: the message goes without a token rather than not at all', async () => {
    const { tracer, spans, diagnostics } = collectingTracer();
    const queue = await freshQueue('large');
    const raw = await connection.createChannel();
    // The longest header value amqplib still sends (it throws a RangeError, sending nothing, past it).
    let size = 65_536;
    for (;;) {
      try {
        raw.sendToQueue(queue, Buffer.from('probe'), { headers: { pad: 'x'.repeat(size) } });
        break;
      } catch (error) {
        expect(error).toBeInstanceOf(RangeError);
        size--;
      }
    }
    const ch = await connection.createConfirmChannel();
    const undo = instrumentAmqplib(ch, { tracer });
    const confirmed = new Promise<unknown>((resolve) =>
      tracer.trace('request', () => ch.sendToQueue(queue, Buffer.from('big'), { headers: { pad: 'x'.repeat(size) } }, resolve)),
    );
    expect(await confirmed).toBeNull();
    const producer = await spans.waitFor((s) => s.kind === 'PRODUCER');
    expect(producer.notes.map((n) => n.value)).toEqual(['trace headers dropped']);
    expect(producer.error).toBeUndefined();
    expect(diagnostics.map((d) => d.code)).toEqual([codes.INTEGRATION_ERROR]);
    // Still too large without our headers: the app's own RangeError, unchanged.
    const tooLarge = tracer.trace('request', () => {
      try {
        ch.sendToQueue(queue, Buffer.from('x'), { headers: { pad: 'x'.repeat(size + 1000) } });
      } catch (error) {
        return error;
      }
      return undefined;
    });
    expect(tooLarge).toBeInstanceOf(RangeError);
    undo();
    await ch.close();
    await raw.close();
  });

  test('malformed and hostile trace headers: counted, a new root trace each, the handler still gets the message', async () => {
    const { tracer, spans, diagnostics } = collectingTracer();
    const queue = await freshQueue('hostile');
    const raw = await connection.createChannel();
    const ch = await connection.createChannel();
    const undo = instrumentAmqplib(ch, { tracer });
    const hostile: Record<string, unknown>[] = [
      { 'x-trace-info': 'not a token' },
      { 'x-trace-info': '00-' + '0'.repeat(32) + '-' + '1'.repeat(16) + '-01' },
      { traceparent: '00-' + 'A'.repeat(32) + '-' + 'b'.repeat(16) + '-01' },
      { 'x-trace-info': 'a'.repeat(60_000) },
      { 'x-trace-info': '00-' + 'a'.repeat(32) + '-' + 'b'.repeat(16) + '-01\r\nX-Evil: 1' },
      { 'x-trace-info': 12345 },
      { 'x-trace-info': { nested: 'object' } },
      { 'x-trace-info': ['two', 'values'] },
      { b3: Buffer.from('binary') },
      { 'x-b3-traceid': 'zz', 'x-b3-spanid': 'b'.repeat(16) },
    ];
    const all = countdown(hostile.length);
    const got: string[] = [];
    await ch.consume(queue, (msg: Message | null) => {
      if (msg === null) return;
      got.push(msg.content.toString());
      ch.ack(msg);
      all.hit();
    });
    hostile.forEach((headers, i) => raw.sendToQueue(queue, Buffer.from(String(i)), { headers }));
    await all.done;
    const consumed = await spans.waitForCount(hostile.length, (s) => s.kind === 'CONSUMER');
    expect(got.sort()).toEqual(hostile.map((_, i) => String(i)).sort());
    for (const span of consumed) expect(span.parentId).toBeUndefined();
    expect(new Set(consumed.map((s) => s.traceId)).size).toBe(hostile.length);
    expect(tracer.stats().malformedHeaders).toBe(hostile.length);
    expect(diagnostics.every((d) => d.code === codes.MALFORMED_HEADER)).toBe(true);
    undo();
    await ch.close();
    await raw.close();
  });

  test('the broker goes away mid-run: the app gets amqplib\'s errors, and no span is left open', async () => {
    const { tracer, spans, diagnostics } = collectingTracer();
    const queue = await freshQueue('cut');
    const proxy = await cuttableProxy(brokers.rabbitmq);
    const viaProxy = await amqplib.connect(amqpUrl(proxy.port));
    const connectionErrors: unknown[] = [];
    viaProxy.on('error', (error: unknown) => connectionErrors.push(error));
    const closed = new Promise<void>((resolve) => viaProxy.on('close', () => resolve()));
    const publisher = await viaProxy.createConfirmChannel();
    const consumer = await viaProxy.createChannel();
    const undos = [instrumentAmqplib(publisher, { tracer }), instrumentAmqplib(consumer, { tracer })];
    const firstTen = countdown(10);
    await consumer.consume(queue, (msg: Message | null) => {
      if (msg === null) return;
      // Acks only the first ten: later deliveries are in flight when the broker goes.
      const n = Number(msg.content.toString());
      if (n < 10) {
        consumer.ack(msg);
        firstTen.hit();
      }
    });
    const confirmErrors: unknown[] = [];
    await tracer.trace('before', async () => {
      for (let i = 0; i < 20; i++) {
        publisher.sendToQueue(queue, Buffer.from(String(i)), {}, (error: unknown) => {
          if (error) confirmErrors.push(error);
        });
      }
      await publisher.waitForConfirms();
    });
    await firstTen.done;
    // Unconfirmed publishes in flight at the cut.
    tracer.trace('during', () => {
      for (let i = 20; i < 25; i++) publisher.sendToQueue(queue, Buffer.from(String(i)), {}, () => undefined);
    });
    proxy.cut();
    await closed;
    const publishError = tracer.trace('after', () => {
      try {
        publisher.sendToQueue(queue, Buffer.from('late'));
        return undefined;
      } catch (error) {
        return error;
      }
    });
    // amqplib's own error, thrown by amqplib to the app, not by us.
    expect(publishError).toBeInstanceOf(Error);
    expect((publishError as Error).name).toBe('IllegalOperationError');
    await tracer.flush();
    const stats = tracer.stats();
    expect(stats.spansStarted).toBe(stats.spansFinished);
    const late = spans.spans.find((s) => s.name === `publish ${queue}` && s.error !== undefined && s.notes.length > 0 && s.error.includes('Channel closed'));
    expect(late).toBeDefined();
    const closedConsumers = spans.spans.filter((s) => s.kind === 'CONSUMER' && s.notes.some((n) => n.value === 'channel closed'));
    expect(closedConsumers.length).toBeGreaterThan(0);
    expect(diagnostics.filter((d) => d.code === codes.INTEGRATION_ERROR)).toEqual([]);
    for (const undo of undos) undo();
    await proxy.close();
  });

  test('the callback API: publish and consume traced the same way', async () => {
    const { tracer, spans } = collectingTracer();
    const queue = await freshQueue('callback');
    const conn = await new Promise<callbackApi.Connection>((resolve, reject) =>
      callbackApi.connect(amqpUrl(), (err, c) => (err ? reject(err) : resolve(c))),
    );
    const ch = await new Promise<callbackApi.ConfirmChannel>((resolve, reject) =>
      conn.createConfirmChannel((err, c) => (err ? reject(err) : resolve(c))),
    );
    const undo = instrumentAmqplib(ch, { tracer });
    const one = countdown(1);
    await new Promise<void>((resolve, reject) =>
      ch.consume(queue, (msg) => {
        if (msg === null) return;
        ch.ack(msg);
        one.hit();
      }, {}, (err) => (err ? reject(err) : resolve())),
    );
    const confirmed = new Promise<unknown>((resolve) =>
      tracer.trace('request', () => ch.sendToQueue(queue, Buffer.from('cb'), {}, (err) => resolve(err))),
    );
    expect(await confirmed).toBeNull();
    await one.done;
    const consumer = await spans.waitFor((s) => s.kind === 'CONSUMER');
    const producer = await spans.waitFor((s) => s.kind === 'PRODUCER');
    expect(consumer.parentId).toBe(producer.id);
    undo();
    await new Promise((resolve) => ch.close(resolve));
    await new Promise((resolve) => conn.close(resolve));
  });

  test('publishing outside a span is untraced unless root: true; the user\'s options object is never changed', async () => {
    const { tracer, spans } = collectingTracer();
    const queue = await freshQueue('root');
    const ch = await connection.createChannel();
    const seen: Message[] = [];
    const two = countdown(2);
    await admin.consume(queue, (msg: Message | null) => {
      if (msg === null) return;
      seen.push(msg);
      admin.ack(msg);
      two.hit();
    });
    const options = { headers: { app: 'x' } };
    const undo = instrumentAmqplib(ch, { tracer });
    ch.sendToQueue(queue, Buffer.from('plain'), options);
    undo();
    const undoRoot = instrumentAmqplib(ch, { tracer, root: true });
    ch.sendToQueue(queue, Buffer.from('root'), options);
    undoRoot();
    await two.done;
    expect(options).toEqual({ headers: { app: 'x' } });
    const byBody = new Map(seen.map((m) => [m.content.toString(), m.properties.headers]));
    expect(byBody.get('plain')).toEqual({ app: 'x' });
    const producer = await spans.waitFor((s) => s.kind === 'PRODUCER');
    expect(producer.parentId).toBeUndefined();
    expect(byBody.get('root')).toMatchObject({ app: 'x', 'x-trace-info': `00-${producer.traceId}-${producer.id}-01` });
    await ch.close();
  });

  test('undo restores the channel; instrumenting twice is reported and changes nothing; bad arguments throw early', async () => {
    const { tracer, diagnostics } = collectingTracer();
    const ch = await connection.createChannel();
    const publish = ch.publish;
    const undo = instrumentAmqplib(ch, { tracer });
    expect(ch.publish).not.toBe(publish);
    const second = instrumentAmqplib(ch, { tracer });
    expect(diagnostics.map((d) => d.code)).toEqual([codes.INTEGRATION_ERROR]);
    second();
    undo();
    undo();
    expect(ch.publish).toBe(publish);
    expect(Object.prototype.hasOwnProperty.call(ch, 'publish')).toBe(false);
    expect(ch.listeners('close').length).toBe(ch.listenerCount('close'));
    expect(() => instrumentAmqplib({} as never)).toThrow(expect.objectContaining({ code: codes.INVALID_OPTION }));
    expect(() => instrumentAmqplib(ch, { nope: 1 } as never)).toThrow(/unknown option "nope"/);
    expect(() => instrumentAmqplib(ch, { root: 'yes' } as never)).toThrow(TypeError);
    await ch.close();
  });
});
