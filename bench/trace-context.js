'use strict';
/**
 * Trace Context and Baggage benchmark (issue 16): what carrying `tracestate` and `baggage` costs
 * per request, in CPU instructions (valgrind callgrind, repeatable to about 0.1%, unlike wall
 * clock on a shared machine), with the headers absent and present.
 *
 * One "request" is what the Express middleware and the http integration do for a request that
 * makes one outgoing call: extract the incoming context (and baggage), start the SERVER span,
 * run a child CLIENT span under it, inject the outgoing headers, end both spans (batch queue,
 * no-op exporter). Each scenario runs in its own `node --single-threaded` under callgrind, twice
 * (N and 2N requests after the same warm-up); instructions per request = (Ir(2N) - Ir(N)) / N,
 * so start-up, module loading and warm-up cancel out. `--single-threaded` makes the runs
 * deterministic (no concurrent compilation), and a 64 MB young generation keeps scavenges out
 * of the measured requests.
 *
 *   node bench/trace-context.js [--requests 20000] [--warmup 20000] [--base /path/to/other/dist/lib]
 *   node bench/trace-context.js --wall [--rounds 15] [--requests 20000] [--base ...]
 *
 * `--base` adds the same scenarios run against another build (the commit before this feature,
 * built with tsc), so the cost of the feature itself is measured. Needs `npm run build` and
 * valgrind.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const SCENARIOS = {
  absent: { label: 'no trace headers at all (a new root trace)', headers: {} },
  traceparent: { label: 'traceparent only', headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } },
  'with-tracestate': {
    label: 'traceparent + tracestate (3 members, 53 chars)',
    headers: {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,ot=th:8;rv:ab',
    },
  },
  'with-both': {
    label: 'traceparent + tracestate + baggage (3 entries)',
    headers: {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,ot=th:8;rv:ab',
      baggage: 'userId=alice,serverNode=DF%2028,isProduction=false;ttl=60',
    },
  },
};

/** One request's work against the build in `dist`, for `scenario`: returns a function doing it. */
function makeRequest(dist, scenario) {
  const { Tracer } = require(path.resolve(dist));
  const tracer = new Tracer({ serviceName: 'bench', exporters: [{ export() {} }], onDiagnostic() {} });
  const common = { host: '127.0.0.1:3000', 'user-agent': 'bench', accept: '*/*', connection: 'keep-alive' };
  const incoming = { ...common, ...SCENARIOS[scenario].headers };
  const hasBaggage = typeof tracer.extractBaggage === 'function';
  const options = { kind: 'SERVER', parent: null, host: undefined, service: undefined, baggage: undefined };
  const clientOptions = { kind: 'CLIENT' };
  let sink = 0;
  const call = () => {
    const span = tracer.startSpan('GET', clientOptions);
    const out = tracer.inject({}, span);
    sink += out.traceparent.length;
    span.end();
  };
  const request = () => {
    const parent = tracer.extractContext(incoming);
    options.parent = parent === undefined ? null : parent;
    if (hasBaggage) options.baggage = parent === undefined ? tracer.extractBaggage(incoming) : undefined;
    const span = tracer.startSpan('GET', options);
    tracer.withSpan(span, call);
    span.end();
  };
  request.check = () => {
    if (sink === 0) throw new Error('nothing injected');
  };
  return request;
}

/** The measured loop, run in the child under callgrind. */
function child(dist, scenario, warmup, requests) {
  const request = makeRequest(dist, scenario);
  for (let i = 0; i < warmup + requests; i++) request();
  request.check();
}

/**
 * `--wall`: both builds in this one process, each scenario's two loops timed in alternation
 * (order rotating every round), so both see the same machine; median ns per request and the
 * median of the per-round ratios.
 */
function wall(builds, rounds, requests) {
  console.log(`same process, ${rounds} rounds of ${requests} requests per build and scenario, order rotating; medians\n`);
  console.log('| scenario | ' + builds.map(([name]) => `${name}, ns/request`).join(' | ') + (builds.length === 2 ? ' | this / base (median of rounds) |' : ' |'));
  console.log('|---|' + builds.map(() => '---:|').join('') + (builds.length === 2 ? '---:|' : ''));
  for (const scenario of Object.keys(SCENARIOS)) {
    const loops = builds.map(([, dist]) => makeRequest(dist, scenario));
    for (const loop of loops) for (let i = 0; i < requests; i++) loop();
    const times = builds.map(() => []);
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? loops.map((_, i) => i) : loops.map((_, i) => loops.length - 1 - i);
      for (const b of order) {
        const start = process.hrtime.bigint();
        for (let i = 0; i < requests; i++) loops[b]();
        times[b].push(Number(process.hrtime.bigint() - start) / requests);
      }
    }
    const med = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const cells = times.map((t) => med(t).toFixed(0));
    const ratio = builds.length === 2 ? ` | ${med(times[1].map((t, i) => t / times[0][i])).toFixed(3)}` : '';
    console.log(`| ${SCENARIOS[scenario].label} | ${cells.join(' | ')}${ratio} |`);
  }
}

function instructions(dist, scenario, warmup, requests) {
  const out = path.join(os.tmpdir(), `tomograph-bench-tc-${process.pid}-${scenario}-${requests}.out`);
  try {
    execFileSync(
      'valgrind',
      // A young generation large enough that no scavenge falls in the measured requests: what
      // is counted is the requests' own work, not where a collection happened to land.
      ['--tool=callgrind', `--callgrind-out-file=${out}`, process.execPath, '--single-threaded',
        '--min-semi-space-size=64', '--max-semi-space-size=64', __filename,
        '--child', scenario, '--dist', dist, '--warmup', String(warmup), '--requests', String(requests)],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const text = fs.readFileSync(out, 'utf8');
    const match = /^summary:\s+(\d+)/m.exec(text) ?? /^totals:\s+(\d+)/m.exec(text);
    if (match === null) throw new Error(`no summary in ${out}`);
    return Number(match[1]);
  } finally {
    fs.rmSync(out, { force: true });
  }
}

function opt(args, name, fallback) {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
}

function main() {
  const args = process.argv.slice(2);
  if (args.includes('--child')) {
    child(opt(args, 'dist'), opt(args, 'child'), Number(opt(args, 'warmup')), Number(opt(args, 'requests')));
    return;
  }
  const requests = Number(opt(args, 'requests', '20000'));
  const warmup = Number(opt(args, 'warmup', '20000'));
  const builds = [['this build', path.join(__dirname, '..', 'dist', 'lib')]];
  const base = opt(args, 'base', undefined);
  if (base !== undefined) builds.unshift(['base', path.resolve(base)]);
  if (args.includes('--wall')) {
    wall(builds, Number(opt(args, 'rounds', '15')), requests);
    return;
  }
  console.log(`callgrind, node ${process.version} --single-threaded, ${requests} requests measured after ${warmup} warm-up\n`);
  console.log('| build | scenario | instructions per request |');
  console.log('|---|---|---:|');
  for (const [name, dist] of builds) {
    for (const scenario of Object.keys(SCENARIOS)) {
      // The base build knows nothing of tracestate or baggage: its figures for those headers
      // are what ignoring them costs.
      const one = instructions(dist, scenario, warmup, requests);
      const two = instructions(dist, scenario, warmup, 2 * requests);
      const perRequest = (two - one) / requests;
      console.log(`| ${name} | ${SCENARIOS[scenario].label} | ${Math.round(perRequest).toLocaleString('en-US')} |`);
    }
  }
}

main();
