import { pathTemplate, routeName, routeTemplate } from '../../middleware/express-route';

// path-to-regexp 8, as router 2.0-2.2 (Express 5.0/5.1) compiled layers with it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { match } = require('../../node_modules/router/node_modules/path-to-regexp') as {
  match: (path: string, options?: object) => (p: string) => unknown;
};

/** A router 2.0-2.2 layer: no `rawPath`, only `matchers` (and a stateful `match` we must not call). */
function layer22(path: string, end: boolean, extra: object) {
  return {
    matchers: [match(path, { end, decode: decodeURIComponent })],
    match: () => {
      throw new Error('stateful match() must not be called');
    },
    ...extra,
  };
}

describe('routeTemplate', () => {
  it('router 2.0-2.2 layers: mount templates rebuilt from the matched parameters', () => {
    const route = { path: '/items/:id' };
    const inner = Object.assign(() => undefined, { stack: [layer22('/items/:id', true, { route })] });
    const app = { router: { stack: [layer22('/users/:uid', false, { route: undefined, handle: inner })] } };
    const req = { route, app, originalUrl: '/users/42/items/7?x=1' };
    expect(routeTemplate(req)).toBe('/users/:uid/items/:id');
    // Cached on the route: the same template for another user, even without walking again.
    expect(routeTemplate({ ...req, originalUrl: '/users/9/items/8' })).toBe('/users/:uid/items/:id');
  });

  it('a router mounted inside itself does not loop: the route path alone is the answer', () => {
    const route = { path: '/leaf' };
    const router: { stack: object[] } & (() => void) = Object.assign(() => undefined, { stack: [] as object[] });
    router.stack.push(layer22('/loop', false, { route: undefined, handle: router }));
    const req = { route, app: { router }, originalUrl: '/loop/loop/loop/leaf' };
    expect(routeTemplate(req)).toBe('/leaf');
  });

  it('no route, or a request object of any shape: undefined, never a throw', () => {
    expect(routeTemplate({})).toBeUndefined();
    expect(routeTemplate(null)).toBeUndefined();
    expect(routeTemplate({ route: 'x' })).toBeUndefined();
    const hostile = { get route(): never { throw new Error('getter'); } };
    expect(routeTemplate(hostile)).toBeUndefined();
    expect(routeTemplate({ route: { path: '/p' }, app: { get _router(): never { throw new Error('x'); } } })).toBeUndefined();
  });

  it('pathTemplate: strings, RegExps and arrays of them', () => {
    expect(pathTemplate('/a/:b')).toBe('/a/:b');
    expect(pathTemplate(/^\/x$/i)).toBe('/^\\/x$/i');
    expect(pathTemplate(['/a', /b/])).toBe('/a,/b/');
  });
});

describe('routeName', () => {
  it('is `<METHOD> <template>`, the same string for the same pair, and bounded', () => {
    const a = routeName('GET', '/users/:id');
    expect(a).toBe('GET /users/:id');
    expect(routeName('GET', '/users/:id')).toBe(a);
    expect(routeName('POST', '/users/:id')).toBe('POST /users/:id');
    // Far more templates than the cache keeps: names stay right past the bound.
    for (let i = 0; i < 1500; i++) expect(routeName('PUT', `/t/${i}`)).toBe(`PUT /t/${i}`);
  });
});
