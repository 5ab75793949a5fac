import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { FinishedSpan } from '../../lib/types';
import { compileLib, removeDir, testTracer } from '../helpers/core-fixtures';

const FIXTURES = path.join(__dirname, '..', 'fixtures');

interface Report {
  tokenInside?: string;
  stats?: { spansFinished: number; spansExported: number };
  spans: FinishedSpan[];
}

let libDir: string;

beforeAll(() => {
  libDir = compileLib();
});

afterAll(() => removeDir(libDir));

function expectJoined(spans: FinishedSpan[], job: string, step: string, parent: { traceId: string; id: string }): void {
  const byName = new Map(spans.map((span) => [span.name, span]));
  expect([...byName.keys()].sort()).toEqual([job, step].sort());
  expect(byName.get(job)?.traceId).toBe(parent.traceId);
  expect(byName.get(job)?.parentId).toBe(parent.id);
  expect(byName.get(step)?.traceId).toBe(parent.traceId);
  expect(byName.get(step)?.parentId).toBe(byName.get(job)?.id);
}

async function runChild(mode: 'fork' | 'spawn', token: string): Promise<Report> {
  const env = { ...process.env, TOMOGRAPH_TEST_LIB: libDir, TRACE_TOKEN: token };
  const script = path.join(FIXTURES, 'child-trace.js');
  if (mode === 'fork') {
    const child = fork(script, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [report] = (await once(child, 'message')) as [Report];
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    return report;
  }
  const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const [code] = await once(child, 'close');
  expect(code).toBe(0);
  return JSON.parse(stdout) as Report;
}

describe('a trace token crosses process boundaries', () => {
  it('into a worker_threads Worker: its spans join the trace under the sending span', async () => {
    const { tracer, spans } = testTracer();
    const worker = new Worker(path.join(FIXTURES, 'worker-trace.js'), { workerData: { libDir } });
    try {
      let sender: FinishedSpan | undefined;
      const report = await tracer.trace('dispatch', async (span) => {
        sender = span as unknown as FinishedSpan;
        worker.postMessage({ headers: tracer.inject({}) });
        const [message] = (await once(worker, 'message')) as [Report & { token: string }];
        return message;
      });
      expect(report.token).toBe(tracer.getTraceInfo(sender as never));
      expect(report.tokenInside).toMatch(new RegExp(`^00-${sender?.traceId}-[0-9a-f]{16}-03$`));
      expectJoined(report.spans, 'worker job', 'worker step', sender as FinishedSpan);
      expect(report.spans.every((span) => span.service === 'worker')).toBe(true);
      const local = await spans();
      expect(local.map((span) => span.name)).toEqual(['dispatch']);
    } finally {
      await worker.terminate();
    }
  });

  for (const mode of ['fork', 'spawn'] as const) {
    it(`into a child process (${mode}): its spans join the trace under the sending span`, async () => {
      const { tracer } = testTracer();
      let sender: FinishedSpan | undefined;
      const report = await tracer.trace('launch', async (span) => {
        sender = span as unknown as FinishedSpan;
        return runChild(mode, tracer.getTraceInfo() as string);
      });
      expectJoined(report.spans, 'child job', 'child step', sender as FinishedSpan);
      expect(report.spans.every((span) => span.service === 'child' && span.sampled)).toBe(true);
      expect(report.stats?.spansExported).toBe(2);
    });
  }

  it('an unsampled token keeps the child unsampled: context carried, nothing recorded', async () => {
    const { tracer, spans } = testTracer({ sampler: 0 });
    let token: string | undefined;
    const report = await tracer.trace('unsampled launch', async () => {
      token = tracer.getTraceInfo();
      return runChild('spawn', token as string);
    });
    expect(token).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-02$/);
    expect(report.spans).toEqual([]);
    expect(report.stats?.spansFinished).toBe(0);
    expect(report.tokenInside?.slice(0, 36)).toBe(token?.slice(0, 36));
    expect(report.tokenInside?.endsWith('-02')).toBe(true);
    expect(await spans()).toEqual([]);
  });
});
