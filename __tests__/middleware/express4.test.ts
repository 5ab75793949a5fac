import { expressConformance } from '../helpers/express-conformance';

// Express 4 (npm alias `express4`): no promise support, so an async handler's rejection never
// reaches the error handlers, and no router channel, so a failed span says `HTTP 500`.
expressConformance({
  label: 'Express 4',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  express: require('express4'),
  asyncErrors: false,
  errorObjects: false,
});

describe('the Express under test', () => {
  it('is Express 4 (the suite above must not silently run against another major)', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(require('express4/package.json').version).toMatch(/^4\./);
  });
});
