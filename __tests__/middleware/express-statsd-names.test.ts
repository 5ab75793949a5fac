/**
 * A request's StatsD names never depend on when a batch leaves: the Express server span learns
 * its route while the request runs, and its children, exported earlier in batches of one, are
 * still filed under `GET_orders_id.children.…` (never `GET.children.…`). Against the real StatsD
 * daemon, for Express 4 and 5, with a handler that is still running when its children have
 * already been exported.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expressMiddleware } from '../../middleware/express';
import { StatsdExporter } from '../../exporters/statsd';
import { Tracer } from '../../lib/tracer';
import { deferred } from '../helpers/core-fixtures';
import { getText } from '../helpers/http-servers';
import { StatsdDaemon } from '../helpers/statsd-daemon';

type ExpressModule = typeof import('express');

const VERSIONS: [string, () => ExpressModule][] = [
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ['Express 4', () => require('express4') as ExpressModule],
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ['Express 5', () => require('express') as ExpressModule],
];

let daemon: StatsdDaemon;
beforeAll(async () => {
  daemon = await StatsdDaemon.start();
});
afterAll(async () => {
  await daemon?.close();
});

describe.each(VERSIONS)('%s: StatsD names of a slow request', (label, load) => {
  it('children exported before the response ends are filed under the route, as are later ones', async () => {
    const express = load();
    const prefix = `t${process.pid}_${Math.random().toString(36).slice(2, 8)}_${label.replace(/\W/g, '')}`;
    const statsd = new StatsdExporter({ port: daemon.port, prefix, hostname: 'web-1' });
    // Batches of one, sent at once: every span leaves the moment it ends.
    const tracer = new Tracer({ serviceName: 'shop', exporters: [statsd], maxBatchSize: 1, scheduledDelayMs: 0, onDiagnostic: () => undefined });
    const childrenDone = deferred();
    const respond = deferred();

    const app = express();
    app.use(expressMiddleware({ tracer }));
    // A middleware before the router: its span ends before any route is known.
    app.use((req, res, next) => {
      tracer.trace('auth', () => undefined);
      next();
    });
    app.get('/orders/:id', async (req, res) => {
      await tracer.trace('load order', async () => {
        tracer.annotate('cache miss');
      });
      childrenDone.resolve();
      await respond.promise; // the slow part: the request is still running
      await tracer.trace('render', async () => undefined);
      res.send('order ' + req.params.id);
    });
    const server: Server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const body = getText(`http://127.0.0.1:${(server.address() as AddressInfo).port}/orders/42`);
      await childrenDone.promise;
      // Everything that has ended is exported now, while the server span is still open.
      await tracer.flush();
      expect(tracer.stats().spansExported).toBe(2);
      respond.resolve();
      expect(await body).toBe('order 42');
      const root = `${prefix}.shop.web-1.GET_orders_id`;
      await daemon.until('the request timer', () => daemon.linesFor(`${root}.ok:`).length === 1);
      await tracer.shutdown();

      const names = daemon.linesFor(prefix + '.').map((line) => line.slice(0, line.indexOf(':'))).sort();
      expect(names).toEqual(
        [
          `${root}.children.auth.ok`,
          `${root}.children.load_order.notes.cache_miss`,
          `${root}.children.load_order.ok`,
          `${root}.children.render.ok`,
          `${root}.ok`,
        ].sort(),
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await tracer.shutdown();
    }
  });
});
