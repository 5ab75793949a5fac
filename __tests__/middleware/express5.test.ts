import { expressConformance } from '../helpers/express-conformance';

// Express 5 (router >= 2.3): rejected async handlers reach the error handlers, and the router's
// `express.router.request` channel gives the span the error's own message.
expressConformance({
  label: 'Express 5',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  express: require('express'),
  asyncErrors: true,
  errorObjects: true,
});

describe('the Express under test', () => {
  it('is Express 5 (the suite above must not silently run against another major)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(require('express/package.json').version).toMatch(/^5\./);
  });
});
