/**
 * The shop API of the demo: a product catalogue and orders in its own SQLite database, behind
 * Express 5, asking the inventory service over HTTP (`fetch`) for stock and reservations. It also
 * serves the live trace page at `/_traces` and the stats page at `/_stats`. Started by main.ts in a
 * process of its own.
 *
 * Tracing, as in any app: `configure`, `expressMiddleware()` (a SERVER span per request),
 * `instrumentKnex(db)` (a CLIENT span per query), `instrumentHttp()` (a CLIENT span per `fetch`,
 * with the trace headers the inventory continues from), and `tracePage()`.
 *
 * Metrics, as in any app: a counter of requests by route and status, a latency histogram, a gauge
 * of requests in flight, the inventory calls timed with `timeMe`, all in `tomograph/metrics`'
 * default registry, shown by `statsPage()` and, when `TOMOGRAPH_STATSD_HOST` is set, sent to
 * StatsD every second.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { configure, currentSpan } from 'tomograph';
import { expressMiddleware } from 'tomograph/express';
import { instrumentHttp } from 'tomograph/http';
import { instrumentKnex } from 'tomograph/knex';
import { configureMetrics, counter, gauge, histogram, timeMe } from 'tomograph/metrics';
import { statsPage, tracePage } from 'tomograph/page';
import { StatsdExporter } from 'tomograph/statsd';
import { closeDatabase, demoExporters, demoLogger, openDatabase, printDiagnostics, serveAsChild } from './service';

const INVENTORY_URL = process.env.INVENTORY_URL ?? 'http://127.0.0.1:3001';

const page = tracePage({ title: 'tomograph demo: shop' });
configure({
  serviceName: 'shop',
  exporters: [page.exporter, ...demoExporters()],
  // Short, so the main process can print each trace right after its request.
  scheduledDelayMs: 20,
  onDiagnostic: printDiagnostics('shop'),
});
instrumentHttp({ remoteServiceName: (url) => (url.startsWith(INVENTORY_URL) ? 'inventory' : undefined) });
if (process.env.TOMOGRAPH_STATSD_HOST) {
  // Its own exporter: the span exporter is shut down by the tracer, this one by the metrics.
  configureMetrics({ exporters: [new StatsdExporter()], intervalMs: 1000 });
}

const requests = counter('http.requests', { description: 'Requests answered, by route and status', labels: ['route', 'status'] });
const latency = histogram('http.latency', { description: 'Time to answer a request', unit: 'ms', labels: ['route'] });
let inFlight = 0;
gauge('http.in_flight', () => inFlight, { description: 'Requests being answered now' });

const db = openDatabase('shop');
const log = demoLogger('shop');

const PRODUCTS = [
  { sku: 'espresso-beans', name: 'Espresso beans, 1 kg', price_cents: 1890 },
  { sku: 'filter-papers', name: 'Filter papers (100)', price_cents: 450 },
  { sku: 'grinder', name: 'Burr grinder', price_cents: 8900 },
  { sku: 'kettle', name: 'Gooseneck kettle', price_cents: 5400 },
  // Still in the catalogue, but the warehouse no longer stocks it: ordering it fails.
  { sku: 'vintage-poster', name: 'Vintage café poster', price_cents: 2500 },
];

/** An answer other than 2xx, with its status. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Calls the inventory; its answer's status and JSON body. Timed into `inventory.calls` (ms). */
const inventory = timeMe('inventory.calls', async function inventory(path: string, init?: { method: string; body: unknown }): Promise<{ status: number; body: any }> {
  const res = await fetch(INVENTORY_URL + path, {
    method: init?.method ?? 'GET',
    headers: init === undefined ? undefined : { 'content-type': 'application/json' },
    body: init === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: await res.json() };
});

const app = express();
// The page first, so its own polling is not traced; it only answers loopback clients.
app.use('/_traces', page);
app.use('/_stats', statsPage({ title: 'tomograph demo: shop' }));
app.use(expressMiddleware({ traceIdHeader: 'x-trace-id' }));
app.use(express.json());
// Counted when the answer is sent, under the route Express matched (its template, not the URL).
app.use((req: Request, res: Response, next: NextFunction) => {
  inFlight++;
  const startedMs = performance.now();
  res.once('close', () => {
    inFlight--;
    const route = req.route === undefined ? 'unmatched' : `${req.method} ${req.baseUrl}${String(req.route.path)}`;
    latency.labels({ route }).record(performance.now() - startedMs);
    requests.labels({ route, status: res.statusCode }).inc();
  });
  next();
});

app.get('/api/products', async (_req: Request, res: Response) => {
  const products = await db('products').select('sku', 'name', 'price_cents').orderBy('sku');
  const stock = await inventory('/stock');
  const available = new Map<string, number>((stock.body as { sku: string; available: number }[]).map((s) => [s.sku, s.available]));
  res.json(products.map((p) => ({ ...p, available: available.get(p.sku) ?? 0 })));
});

app.get('/api/products/:sku', async (req: Request, res: Response) => {
  const product = await db('products').where({ sku: req.params.sku }).first('sku', 'name', 'price_cents');
  // A 4xx is an answer, not a failure: the span records the status and stays unfailed.
  if (product === undefined) return void res.status(404).json({ error: `no product ${req.params.sku}` });
  const stock = await inventory(`/stock/${encodeURIComponent(product.sku)}`);
  res.json({ ...product, available: stock.status === 200 ? stock.body.available : 0 });
});

app.post('/api/orders', async (req: Request, res: Response) => {
  const { sku, quantity } = req.body as { sku: string; quantity: number };
  const product = await db('products').where({ sku }).first('sku', 'price_cents');
  if (product === undefined) return void res.status(404).json({ error: `no product ${sku}` });
  const reservation = await inventory('/reservations', { method: 'POST', body: { sku, quantity } });
  if (reservation.status === 409) {
    log.info({ sku, quantity }, 'out of stock');
    return void res.status(409).json(reservation.body);
  }
  // The inventory does not know a product we sell: our fault, not the client's. The error thrown
  // here fails the request's span with its message, and reaches the error handler below.
  if (reservation.status !== 201) throw new HttpError(502, `inventory answered ${reservation.status}: ${reservation.body.error}`);
  currentSpan()?.tag('order.reservation', reservation.body.reservationId);
  const [order] = await db('orders')
    .insert({ sku, quantity, total_cents: quantity * product.price_cents, reservation_id: reservation.body.reservationId })
    .returning('id');
  log.info({ orderId: (order as { id: number }).id, sku, quantity }, 'order placed');
  res.status(201).json({ orderId: (order as { id: number }).id, totalCents: quantity * product.price_cents });
});

app.get('/api/reports/stock', async (_req: Request, res: Response) => {
  // The slow request: the inventory recounts its shelves first.
  const stock = await inventory('/stock?recount=true');
  const sold = await db('orders').select('sku').sum({ quantity: 'quantity' }).groupBy('sku');
  res.json({ stock: stock.body, sold });
});

app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
  const status = error instanceof HttpError ? error.status : 500;
  log.error({ status, error: error instanceof Error ? error.message : String(error) }, 'request failed');
  res.status(status).json({ error: error instanceof Error ? error.message : String(error) });
});

async function seed(): Promise<void> {
  await db.schema.createTable('products', (table) => {
    table.string('sku').primary();
    table.string('name').notNullable();
    table.integer('price_cents').notNullable();
  });
  await db.schema.createTable('orders', (table) => {
    table.increments('id');
    table.string('sku').notNullable().references('products.sku');
    table.integer('quantity').notNullable();
    table.integer('total_cents').notNullable();
    table.integer('reservation_id').notNullable();
  });
  await db('products').insert(PRODUCTS);
}

void seed().then(() => {
  // Instrumented after seeding, so the start-up queries make no traces of their own.
  instrumentKnex(db);
  serveAsChild(app, {
    port: Number(process.env.DEMO_PORT ?? 0),
    onClose: () => closeDatabase(db, 'shop'),
    // The inventory's spans, relayed by the main process, so the page shows whole traces.
    onMessage: (message) => {
      if (message.type === 'spans') page.exporter.export(message.spans);
    },
  });
});
