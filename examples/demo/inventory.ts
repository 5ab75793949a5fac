/**
 * The inventory service of the demo: stock levels and reservations in its own SQLite database,
 * behind Express 5. Started by main.ts in a process of its own; the shop calls it over HTTP.
 *
 * Tracing is three lines, as in any app: `configure`, `expressMiddleware()`, `instrumentKnex(db)`.
 * The middleware continues the shop's trace from the request headers, so the inventory's spans
 * land in the same trace as the shop's.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { annotate, configure, trace } from 'tomograph';
import { expressMiddleware } from 'tomograph/express';
import { instrumentKnex } from 'tomograph/knex';
import { counter } from 'tomograph/metrics';
import { closeDatabase, demoExporters, demoLogger, openDatabase, printDiagnostics, serveAsChild } from './service';

configure({
  serviceName: 'inventory',
  exporters: demoExporters(),
  // Short, so the main process can print each trace right after its request.
  scheduledDelayMs: 20,
  onDiagnostic: printDiagnostics('inventory'),
});

const db = openDatabase('inventory');
const reservations = counter('stock.reservations', { description: 'Reservation requests, by answer', labels: ['status'] });
const log = demoLogger('inventory');

/** The warehouse's shelves. The shop also lists `vintage-poster`, which the warehouse dropped. */
const STOCK = [
  { sku: 'espresso-beans', on_hand: 500 },
  { sku: 'filter-papers', on_hand: 800 },
  { sku: 'grinder', on_hand: 20 },
  { sku: 'kettle', on_hand: 3 },
];
/** How long a shelf recount takes (the demo's slow request). */
const RECOUNT_MS = 400;

const app = express();
app.use(expressMiddleware({ traceIdHeader: 'x-trace-id' }));
app.use(express.json());

app.get('/stock', async (req: Request, res: Response) => {
  if (req.query.recount === 'true') {
    // Local work that is not a query: a span of its own, with a note when it is done.
    await trace('recount shelves', async () => {
      await new Promise((resolve) => setTimeout(resolve, RECOUNT_MS));
      annotate('shelves counted');
    });
  }
  const rows = await db('stock').select('sku', 'on_hand', 'reserved').orderBy('sku');
  res.json(rows.map((row) => ({ sku: row.sku, available: row.on_hand - row.reserved })));
});

app.get('/stock/:sku', async (req: Request, res: Response) => {
  const row = await db('stock').where({ sku: req.params.sku }).first('sku', 'on_hand', 'reserved');
  // A 4xx is an answer, not a failure: the span records the status and stays unfailed.
  if (row === undefined) return void res.status(404).json({ error: `no stock record for ${req.params.sku}` });
  res.json({ sku: row.sku, available: row.on_hand - row.reserved });
});

app.post('/reservations', async (req: Request, res: Response) => {
  const { sku, quantity } = req.body as { sku: string; quantity: number };
  const answer = await db.transaction(async (trx) => {
    const row = await trx('stock').where({ sku }).first('on_hand', 'reserved');
    if (row === undefined) {
      log.warn({ sku }, 'reservation for an unknown sku');
      return { status: 404, body: { error: `no stock record for ${sku}` } };
    }
    const available = row.on_hand - row.reserved;
    if (available < quantity) return { status: 409, body: { error: `only ${available} ${sku} left` } };
    await trx('stock').where({ sku }).increment('reserved', quantity);
    const [inserted] = await trx('reservations').insert({ sku, quantity }).returning('id');
    return { status: 201, body: { reservationId: (inserted as { id: number }).id } };
  });
  reservations.labels({ status: String(answer.status) }).inc();
  res.status(answer.status).json(answer.body);
});

// Anything thrown above (a failed query) fails the request's span with its message, and lands here.
app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
  res.status(500).json({ error: error instanceof Error ? error.message : String(error) });
});

async function seed(): Promise<void> {
  await db.schema.createTable('stock', (table) => {
    table.string('sku').primary();
    table.integer('on_hand').notNullable();
    table.integer('reserved').notNullable().defaultTo(0);
  });
  await db.schema.createTable('reservations', (table) => {
    table.increments('id');
    table.string('sku').notNullable().references('stock.sku');
    table.integer('quantity').notNullable();
  });
  await db('stock').insert(STOCK);
}

void seed().then(() => {
  // Instrumented after seeding, so the start-up queries make no traces of their own.
  instrumentKnex(db);
  serveAsChild(app, { onClose: () => closeDatabase(db, 'inventory') });
});
