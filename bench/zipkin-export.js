'use strict';
/**
 * Zipkin export benchmark (issue 3): finished spans per second, encoded as Zipkin v2 JSON and
 * delivered over HTTP to a local collector sink, for tomograph's ZipkinExporter,
 * OpenTelemetry's ZipkinExporter (@opentelemetry/exporter-zipkin) and zipkin-js's HttpLogger
 * (zipkin-transport-http, JSON_V2, spans made by its BatchRecorder), at the same batch size.
 * Then the encoders alone (no HTTP), including the `zipkin` package's model + JSON_V2 fed by
 * tomograph's normalisation, which is the alternative the exporter's hand-written encoder
 * was measured against.
 *
 *   npx tsc -p tsconfig.build.json && taskset -c 1 node bench/zipkin-export.js [--rounds 7] [--batches 40]
 *     [--warmup 200] [--variants tomograph,raw-undici,enc-tomograph]
 *
 * The warm-up is long enough for V8 to finish compiling each variant's hot code, undici's
 * WebAssembly HTTP parser included: compiling runs on background threads whose CPU time
 * process.cpuUsage() counts, and 60 batches left some of it inside the measured window.
 *
 * The sink runs in its own process pinned to core 0 (`taskset -c 0`); each measurement runs
 * in a fresh process pinned to core 1, variants rotate order every round, medians are quoted.
 * Every delivered round is checked: the sink must have counted exactly the spans sent.
 */
const { spawn, spawnSync } = require('node:child_process');
const { once } = require('node:events');
const http = require('node:http');
const path = require('node:path');
const zlib = require('node:zlib');

const DIST = path.join(__dirname, '..', 'dist');
const BATCH = 512;
// Distinct spans each variant cycles through: 8192, more than the encoder's string caches hold
// (4096), so unique tag values cost what they cost in production (a miss), not a cached hit.
const POOL = 16 * BATCH;

const DELIVERY = {
  'raw-post': 'bound: the same bodies pre-encoded, POSTed with a bare keep-alive http.request',
  'raw-undici': "bound: the same bodies pre-encoded, POSTed with the exporter's undici client",
  tomograph: 'tomograph ZipkinExporter',
  'tomograph-gzip': 'tomograph ZipkinExporter, gzip: true',
  otel: 'OpenTelemetry ZipkinExporter (@opentelemetry/exporter-zipkin)',
  'zipkin-js': 'zipkin-js HttpLogger (zipkin-transport-http, JSON_V2)',
};
const ENCODING = {
  'enc-tomograph': 'tomograph encodeZipkinBodies: JSON by hand, repeated strings cached, written into the Buffer (shipped)',
  'enc-object': 'tomograph toZipkinSpan objects + one JSON.stringify (measured, not shipped)',
  'enc-hand': 'tomograph, JSON by hand, JSON.stringify per string (first version, not shipped)',
  'enc-zipkin-model': 'tomograph normalisation + zipkin model.Span + JSON_V2.encode (not shipped)',
  'enc-otel': "OpenTelemetry's toZipkinSpan + JSON.stringify",
};

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}

// ---- The sink: a minimal collector that counts spans and answers 202. ----

function sink() {
  const KEY = Buffer.from('"traceId"');
  let spans = 0;
  // Counts the ids' keys in the raw bytes as they arrive (Buffer.indexOf, no copies), carrying a
  // chunk's tail over so a key cut in two is still found: the sink's own cost is part of every
  // variant's time, so it is kept as small as a check of delivery allows.
  const count = (buffer) => {
    let n = 0;
    for (let at = buffer.indexOf(KEY); at !== -1; at = buffer.indexOf(KEY, at + KEY.length)) n++;
    return n;
  };
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.end(String(spans));
      spans = 0;
      return;
    }
    const gzipped = req.headers['content-encoding'] === 'gzip';
    const chunks = [];
    let tail = Buffer.alloc(0);
    req.on('data', (chunk) => {
      if (gzipped) return chunks.push(chunk);
      const joined = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
      const found = count(joined);
      spans += found;
      // Keep the last KEY.length - 1 bytes, unless they are part of a key already counted.
      const last = joined.lastIndexOf(KEY);
      const keep = Math.max(joined.length - (KEY.length - 1), last === -1 ? 0 : last + KEY.length);
      tail = joined.subarray(keep);
    });
    req.on('end', () => {
      if (gzipped) spans += count(zlib.gunzipSync(Buffer.concat(chunks)));
      res.writeHead(202).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

function sinkCount(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/count', agent: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(Number(text)));
    }).on('error', reject);
  });
}

// ---- Inputs: the same spans in each library's finished form. ----

/**
 * One SERVER span per request, `count` of them: 5 tags (one a unique string, one a unique
 * number), 1 note, a remote peer.
 */
function tomographSpans(count) {
  const { Tracer, MemoryExporter } = require(path.join(DIST, 'lib'));
  const memory = new MemoryExporter({ maxSpans: count });
  const tracer = new Tracer({
    serviceName: 'bench', exporters: [memory], maxQueueSize: count, maxBatchSize: Math.min(count, 512),
    host: { address: '10.0.0.1', port: 8080 }, onDiagnostic() {},
  });
  for (let i = 0; i < count; i++) {
    tracer.trace('GET /items/:id', (span) => {
      span.tag('http.method', 'GET').tag('http.route', '/items/:id').tag('http.target', `/items/${i}`);
      span.tag('http.status_code', 200).tag('user.id', i);
      span.annotate('cache miss');
    }, { kind: 'SERVER', remote: { address: '10.0.0.2', port: 40000 + (i % 1000) } });
  }
  return tracer.flush().then(() => memory.spans);
}

function otelSpans(count) {
  const { BasicTracerProvider, SimpleSpanProcessor, InMemorySpanExporter } = require('@opentelemetry/sdk-trace-base');
  const { resourceFromAttributes } = require('@opentelemetry/resources');
  const api = require('@opentelemetry/api');
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'bench' }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('bench');
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan('GET /items/:id', {
      kind: api.SpanKind.SERVER,
      attributes: {
        'http.method': 'GET', 'http.route': '/items/:id', 'http.target': `/items/${i}`, 'http.status_code': 200, 'user.id': i,
        'net.peer.ip': '10.0.0.2', 'net.peer.port': 40000 + (i % 1000),
      },
    });
    span.addEvent('cache miss');
    span.end();
  }
  return memory.getFinishedSpans();
}

function zipkinJsSpans(count) {
  const zipkin = require('zipkin');
  const spans = [];
  const recorder = new zipkin.BatchRecorder({ logger: { logSpan: (span) => spans.push(span) } });
  const tracer = new zipkin.Tracer({
    ctxImpl: new zipkin.ExplicitContext(), recorder, localServiceName: 'bench', traceId128Bit: true,
    localEndpoint: new zipkin.model.Endpoint({ serviceName: 'bench', ipv4: '10.0.0.1', port: 8080 }),
  });
  for (let i = 0; i < count; i++) {
    tracer.scoped(() => {
      tracer.setId(tracer.createRootId());
      tracer.recordServiceName('bench');
      tracer.recordRpc('GET /items/:id');
      tracer.recordAnnotation(new zipkin.Annotation.ServerRecv());
      tracer.recordAnnotation(new zipkin.Annotation.ClientAddr({ host: new zipkin.InetAddress('10.0.0.2'), port: 40000 + (i % 1000) }));
      tracer.recordBinary('http.method', 'GET');
      tracer.recordBinary('http.route', '/items/:id');
      tracer.recordBinary('http.target', `/items/${i}`);
      tracer.recordBinary('http.status_code', '200');
      tracer.recordBinary('user.id', String(i));
      tracer.recordMessage('cache miss');
      tracer.recordAnnotation(new zipkin.Annotation.ServerSend());
    });
  }
  return spans;
}

function batchesOf(spans) {
  const batches = [];
  for (let i = 0; i + BATCH <= spans.length; i += BATCH) batches.push(spans.slice(i, i + BATCH));
  return batches;
}

// ---- Delivery: one exporter, batches sent one after another, as a batch queue does. ----

async function senderFor(variant, url) {
  switch (variant) {
    case 'tomograph':
    case 'tomograph-gzip': {
      const { ZipkinExporter } = require(path.join(DIST, 'exporters/zipkin'));
      const exporter = new ZipkinExporter({ url, gzip: variant === 'tomograph-gzip' });
      const batches = batchesOf(await tomographSpans(POOL));
      return { batches, send: (batch) => exporter.export(batch), close: () => exporter.shutdown() };
    }
    case 'raw-post': {
      const { encodeZipkinBodies } = require(path.join(DIST, 'exporters/zipkin-json'));
      const bodies = batchesOf(await tomographSpans(POOL)).map((batch) => encodeZipkinBodies(batch)[0].body);
      const agent = new http.Agent({ keepAlive: true });
      const send = (body) =>
        new Promise((resolve, reject) => {
          const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
            res.resume();
            res.on('end', resolve);
          });
          req.on('error', reject);
          req.end(body);
        });
      return { batches: bodies, send, close: async () => agent.destroy() };
    }
    case 'raw-undici': {
      const { encodeZipkinBodies } = require(path.join(DIST, 'exporters/zipkin-json'));
      const { ZipkinHttpClient } = require(path.join(DIST, 'exporters/zipkin-http'));
      const bodies = batchesOf(await tomographSpans(POOL)).map((batch) => encodeZipkinBodies(batch)[0].body);
      const client = new ZipkinHttpClient({ url: new URL(url), timeoutMs: 5000, headers: {} });
      return { batches: bodies, send: (body) => client.post(body, false), close: async () => client.destroy() };
    }
    case 'otel': {
      const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin');
      const exporter = new ZipkinExporter({ url });
      const batches = batchesOf(otelSpans(POOL));
      const send = (batch) =>
        new Promise((resolve, reject) =>
          exporter.export(batch, (result) => (result.code === 0 ? resolve() : reject(result.error ?? new Error('failed')))),
        );
      return { batches, send, close: () => exporter.shutdown() };
    }
    case 'zipkin-js': {
      const { HttpLogger } = require('zipkin-transport-http');
      const { jsonEncoder } = require('zipkin');
      // A long interval: the bench sends each batch itself, as soon as it is logged.
      const logger = new HttpLogger({ endpoint: url, jsonEncoder: jsonEncoder.JSON_V2, httpInterval: 3_600_000 });
      const batches = batchesOf(zipkinJsSpans(POOL));
      const send = async (batch) => {
        for (const span of batch) logger.logSpan(span);
        const sent = Promise.race([once(logger, 'success'), once(logger, 'error').then(([e]) => Promise.reject(e))]);
        logger.processQueue(logger.fetchImplementation);
        await sent;
      };
      return { batches, send, close: async () => undefined };
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

async function measureDelivery(variant, url, port, batchCount) {
  const { batches, send, close } = await senderFor(variant, url);
  // Warm-up long enough for every variant's code to reach its optimised tier.
  for (let i = 0; i < Number(arg('warmup', 200)); i++) await send(batches[i % batches.length]);
  await sinkCount(port); // reset after warm-up
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < batchCount; i++) await send(batches[i % batches.length]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const delivered = await sinkCount(port);
  await close();
  const sent = batchCount * BATCH;
  if (delivered !== sent) throw new Error(`${variant}: sink counted ${delivered} spans, ${sent} sent`);
  return { spansPerSecond: sent / seconds, cpuUsPerSpan: (used.user + used.system) / sent, userUsPerSpan: used.user / sent };
}

// ---- Encoding alone: a batch of spans to one JSON body string. ----

async function encoderFor(variant) {
  switch (variant) {
    case 'enc-tomograph': {
      const { encodeZipkinBodies } = require(path.join(DIST, 'exporters/zipkin-json'));
      const pool = batchesOf(await tomographSpans(POOL));
      return (i) => encodeZipkinBodies(pool[i % pool.length])[0].body;
    }
    case 'enc-object': {
      const { toZipkinSpan } = require(path.join(DIST, 'exporters/zipkin-encode'));
      const pool = batchesOf(await tomographSpans(POOL));
      return (i) => Buffer.from(JSON.stringify(pool[i % pool.length].map(toZipkinSpan)));
    }
    case 'enc-hand': {
      const pool = batchesOf(await tomographSpans(POOL));
      const encode = handWrittenEncoder();
      return (i) => {
        const spans = pool[i % pool.length];
        let json = '[';
        for (let k = 0; k < spans.length; k++) json += (k === 0 ? '' : ',') + encode(spans[k]);
        return Buffer.from(`${json}]`);
      };
    }
    case 'enc-zipkin-model': {
      const enc = require(path.join(DIST, 'exporters/zipkin-encode'));
      const { model, jsonEncoder, TraceId, option } = require('zipkin');
      const pool = batchesOf(await tomographSpans(POOL));
      const endpoint = (e) => e && new model.Endpoint({ serviceName: e.serviceName, ipv4: e.ipv4, port: e.port });
      const one = (s) => {
        const id = enc.zipkinSpanId(s.id);
        const parent = s.parentId === undefined ? option.None : new option.Some(enc.zipkinSpanId(s.parentId));
        const span = new model.Span(new TraceId({ traceId: enc.zipkinTraceId(s.traceId), spanId: id, parentId: parent }));
        span.setName(s.name);
        span.setKind(enc.zipkinKind(s.kind));
        span.setTimestamp(enc.zipkinTimestamp(s.timestamp));
        span.setDuration(enc.zipkinDuration(s.duration));
        span.setLocalEndpoint(endpoint(enc.zipkinEndpoint(s.service, s.host)));
        if (s.remote) span.setRemoteEndpoint(endpoint(enc.zipkinEndpoint(s.remote.service, s.remote)));
        for (const a of enc.zipkinAnnotations(s) ?? []) span.addAnnotation(a.timestamp, a.value);
        const tags = enc.zipkinTags(s);
        if (tags) for (const key of Object.keys(tags)) span.putTag(key, tags[key]);
        return jsonEncoder.JSON_V2.encode(span);
      };
      return (i) => Buffer.from(`[${pool[i % pool.length].map(one).join(',')}]`);
    }
    case 'enc-otel': {
      const { toZipkinSpan, defaultStatusCodeTagName, defaultStatusErrorTagName } = require(
        '@opentelemetry/exporter-zipkin/build/src/transform',
      );
      const pool = batchesOf(otelSpans(POOL));
      return (i) =>
        Buffer.from(
          JSON.stringify(pool[i % pool.length].map((s) => toZipkinSpan(s, 'bench', defaultStatusCodeTagName, defaultStatusErrorTagName))),
        );
    }
    default:
      throw new Error(`unknown variant ${variant}`);
  }
}

/**
 * The first version of the exporter's encoder: the JSON written by hand, field by field,
 * straight from the FinishedSpan, with the same normalisation. Kept here to show why it lost.
 */
function handWrittenEncoder() {
  const enc = require(path.join(DIST, 'exporters/zipkin-encode'));
  const endpointJson = (e) => {
    let json = '';
    if (e.serviceName !== undefined) json += `,"serviceName":${JSON.stringify(e.serviceName)}`;
    if (e.ipv4 !== undefined) json += `,"ipv4":"${e.ipv4}"`;
    if (e.ipv6 !== undefined) json += `,"ipv6":"${e.ipv6}"`;
    if (e.port !== undefined) json += `,"port":${e.port}`;
    return `{${json.slice(1)}}`;
  };
  let lastService;
  let lastAddress;
  let lastPort;
  let lastLocal = '';
  return (span) => {
    const id = enc.zipkinSpanId(span.id);
    let json = `{"traceId":"${enc.zipkinTraceId(span.traceId)}"`;
    if (span.parentId !== undefined) {
      const parentId = enc.zipkinSpanId(span.parentId);
      if (parentId !== id) json += `,"parentId":"${parentId}"`;
    }
    json += `,"id":"${id}"`;
    if (typeof span.name === 'string' && span.name !== '') json += `,"name":${JSON.stringify(span.name.toLowerCase())}`;
    const kind = enc.zipkinKind(span.kind);
    if (kind !== undefined) json += `,"kind":"${kind}"`;
    const timestamp = enc.zipkinTimestamp(span.timestamp);
    if (timestamp !== undefined) json += `,"timestamp":${timestamp}`;
    json += `,"duration":${enc.zipkinDuration(span.duration)}`;
    const host = span.host;
    if (span.service !== lastService || host?.address !== lastAddress || host?.port !== lastPort) {
      const local = enc.zipkinEndpoint(span.service, host);
      lastLocal = local === undefined ? '' : `,"localEndpoint":${endpointJson(local)}`;
      lastService = span.service;
      lastAddress = host?.address;
      lastPort = host?.port;
    }
    json += lastLocal;
    if (span.remote !== undefined) {
      const remote = enc.zipkinEndpoint(span.remote.service, span.remote);
      if (remote !== undefined) json += `,"remoteEndpoint":${endpointJson(remote)}`;
    }
    const annotations = enc.zipkinAnnotations(span);
    if (annotations !== undefined) {
      json += ',"annotations":[';
      for (let i = 0; i < annotations.length; i++) {
        json += `${i === 0 ? '' : ','}{"timestamp":${annotations[i].timestamp},"value":${JSON.stringify(annotations[i].value)}}`;
      }
      json += ']';
    }
    const tags = enc.zipkinTags(span);
    if (tags !== undefined) {
      let body = '';
      for (const key of Object.keys(tags)) body += `,${JSON.stringify(key)}:${JSON.stringify(tags[key])}`;
      json += `,"tags":{${body.slice(1)}}`;
    }
    return `${json}}`;
  };
}

async function measureEncoding(variant) {
  const encode = await encoderFor(variant);
  let bytes = 0;
  for (let i = 0; i < 200; i++) bytes += encode(i).length;
  // CPU time, not wall time: on a shared machine it is what the encoder itself costs.
  const iterations = 2000;
  const cpu = process.cpuUsage();
  for (let i = 0; i < iterations; i++) bytes += encode(i).length;
  const used = process.cpuUsage(cpu);
  const seconds = (used.user + used.system) / 1e6;
  return { spansPerSecond: (iterations * BATCH) / seconds, bytesPerSpan: Math.round(encode(0).length / BATCH), check: bytes > 0 };
}

// ---- The driver. ----

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function runOne(variant, extra) {
  const result = spawnSync('taskset', ['-c', '1', process.execPath, __filename, '--measure', variant, ...extra], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (result.status !== 0) throw new Error(`${variant} failed:\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

function table(title, descriptions, results, baseline) {
  const withCpu = results[baseline][0].cpuUsPerSpan !== undefined;
  console.log(`\n${title}`);
  console.log(`| variant | spans/s (median) | vs ${baseline} |${withCpu ? ' client CPU µs/span (median) |' : ' bytes/span |'} runs (k spans/s) |`);
  console.log(`|---|---:|---:|---:|---|`);
  const base = median(results[baseline].map((r) => r.spansPerSecond));
  for (const variant of Object.keys(descriptions)) {
    const rates = results[variant].map((r) => r.spansPerSecond);
    const m = median(rates);
    const extra = withCpu ? median(results[variant].map((r) => r.cpuUsPerSpan)).toFixed(2) : String(results[variant][0].bytesPerSpan);
    console.log(
      `| ${descriptions[variant]} | ${Math.round(m).toLocaleString('en')} | ${(m / base).toFixed(2)}x | ${extra} | ${rates
        .map((r) => Math.round(r / 1000))
        .join(' ')} |`,
    );
  }
}

async function main() {
  if (process.argv.includes('--sink')) return sink();
  const measure = arg('measure');
  if (measure !== undefined) {
    const result = measure.startsWith('enc-')
      ? await measureEncoding(measure)
      : await measureDelivery(measure, arg('url'), Number(arg('port')), Number(arg('batches')));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }

  const rounds = Number(arg('rounds', 7));
  const batchCount = Number(arg('batches', 40));
  const sinkProcess = spawn('taskset', ['-c', '0', process.execPath, __filename, '--sink'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [portLine] = await once(sinkProcess.stdout, 'data');
  const port = Number(String(portLine).trim());
  const url = `http://127.0.0.1:${port}/api/v2/spans`;
  console.log(`node ${process.version}, ${rounds} rounds, ${batchCount} batches of ${BATCH} spans per delivery run, sink on core 0, runs on core 1`);

  // `--variants a,b` runs only those (the baselines otel and enc-otel always run).
  const only = arg('variants')?.split(',');
  const pick = (table, baseline) =>
    Object.fromEntries(Object.entries(table).filter(([v]) => only === undefined || v === baseline || only.includes(v)));
  const deliveryVariants = pick(DELIVERY, 'otel');
  const encodingVariants = pick(ENCODING, 'enc-otel');
  const delivery = Object.fromEntries(Object.keys(deliveryVariants).map((v) => [v, []]));
  const encoding = Object.fromEntries(Object.keys(encodingVariants).map((v) => [v, []]));
  try {
    for (let round = 0; round < rounds; round++) {
      const order = Object.keys(deliveryVariants);
      for (let k = 0; k < round % order.length; k++) order.push(order.shift());
      for (const variant of order) {
        delivery[variant].push(runOne(variant, ['--url', url, '--port', String(port), '--batches', String(batchCount)]));
      }
      const encOrder = Object.keys(encodingVariants);
      for (let k = 0; k < round % encOrder.length; k++) encOrder.push(encOrder.shift());
      for (const variant of encOrder) encoding[variant].push(runOne(variant, []));
      process.stderr.write(`round ${round + 1}/${rounds} done\n`);
    }
  } finally {
    sinkProcess.kill();
  }
  table('Delivered to a local sink (encode + HTTP POST + 202), batches of 512', deliveryVariants, delivery, 'otel');
  table('Encoding only, CPU time (a batch of 512 spans to one JSON body in a Buffer)', encodingVariants, encoding, 'enc-otel');
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
