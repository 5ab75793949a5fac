/**
 * The route template of a finished Express request (`/api/items/:id`), for Express 4 and 5.
 *
 * Express keeps only the last route's own path (`req.route.path`) and the *actual* prefix the
 * mounted routers consumed (`req.baseUrl`, e.g. `/users/42`), and it restores `baseUrl` as
 * soon as `next()` leaves a router, so neither tells the template of a mount path by itself.
 * Instead we walk the app's router tree from the top, matching mount layers against the
 * request's path the way the router did, until we reach the layer that owns `req.route`
 * (found by identity). What a layer knows of its own path differs by version:
 *
 * - router >= 2.3 (Express 5): `layer.rawPath` (string, RegExp or array) and a pure
 *   `layer.match(path)` that returns `{ path, pattern }`;
 * - router 2.0-2.2 (Express 5.0/5.1): only `layer.matchers` (path-to-regexp 8 `match`
 *   functions returning `{ path, params }`): the template is the matched text with each
 *   parameter value put back as `:name`;
 * - Express 4 (path-to-regexp 0.1): only the compiled `layer.regexp` and `layer.keys`: we match
 *   a copy with the `d` flag and put `:name` back over each capture group. A RegExp the user
 *   gave is kept as the layer's regexp itself and named by its source (`/^\/v\d+/`).
 *
 * None of this mutates a layer (Express 4's own `layer.match` writes per-request state onto the
 * shared layer, so we never call it). A route reached through a single chain of mounts, with no
 * array paths on the way, has one template forever: it is cached on the route object under a
 * Symbol, so the walk runs once per route, not per request.
 */

/** What we read of a router: its stack of layers (Express 4 `Router`, router@2). */
interface RouterLike {
  stack: LayerLike[];
}

/** What we read of a layer, across versions; every field is optional. */
interface LayerLike {
  route?: RouteLike;
  handle?: unknown;
  name?: string;
  rawPath?: unknown;
  match?: (path: string) => unknown;
  matchers?: ((path: string) => unknown)[];
  regexp?: RegExp;
  keys?: { name: string | number }[];
}

interface RouteLike {
  path?: unknown;
  [TEMPLATE]?: string;
}

/** A mount or route layer matched against a path: the text it consumed and its template. */
interface Matched {
  text: string;
  template: string;
}

/** Walk state: whether the template found depends on the request (arrays on the way). */
interface Walk {
  route: RouteLike;
  variable: boolean;
}

const TEMPLATE = Symbol('tomograph.routeTemplate');
const D_REGEXP = Symbol('tomograph.indicesRegExp');
/** Nesting beyond this is a cycle (a router mounted inside itself) or not worth following. */
const MAX_DEPTH = 32;
/** The tail path-to-regexp 0.1 puts on every non-ending (mount) path it compiles. */
const EXPRESS4_MOUNT_TAIL = '(?=\\/|$)';

/**
 * The full route template of the route that handled `req` (mount paths included), or
 * `undefined` when no route matched. Never throws.
 *
 * @param req an Express request after routing (reads `route`, `app`, `originalUrl`, `url`).
 */
export function routeTemplate(req: unknown): string | undefined {
  try {
    const r = req as { route?: unknown; app?: unknown; originalUrl?: unknown; url?: unknown };
    const route = r.route as RouteLike | undefined;
    if (route === null || typeof route !== 'object') return undefined;
    const cached = route[TEMPLATE];
    if (cached !== undefined) return cached;
    const url = typeof r.originalUrl === 'string' ? r.originalUrl : typeof r.url === 'string' ? r.url : '/';
    const walk: Walk = { route, variable: false };
    const found = resolve(r.app, pathname(url), walk);
    if (found === undefined) return pathTemplate(route.path);
    if (!walk.variable && countChains(routerOf(r.app), route, 0) === 1) route[TEMPLATE] = found;
    return found;
  } catch {
    return undefined;
  }
}

/** Span names already made, by route template then method: at most `MAX_NAMES` templates. */
const names = new Map<string, Map<string, string>>();
const MAX_NAMES = 1000;
/** Methods per template at most: a client chooses the method. */
const MAX_METHODS = 64;

/**
 * `<METHOD> <template>`, the same string each time for the same pair: a name built per request
 * would be a new (cons) string that the exporter must then flatten to encode it. Templates come
 * from the app's route definitions, so there are few; past `MAX_NAMES` the name is built anew.
 */
export function routeName(method: string, template: string): string {
  let byMethod = names.get(template);
  if (byMethod === undefined) {
    if (names.size >= MAX_NAMES) return method + ' ' + template;
    byMethod = new Map();
    names.set(template, byMethod);
  }
  let name = byMethod.get(method);
  if (name === undefined) {
    if (byMethod.size >= MAX_METHODS) return method + ' ' + template;
    name = method + ' ' + template;
    byMethod.set(method, name);
  }
  return name;
}

/** The path part of a request URL (no query string). */
export function pathname(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** A path, RegExp or array of them as given to Express, as one string. */
export function pathTemplate(path: unknown): string {
  if (typeof path === 'string') return path;
  if (Array.isArray(path)) return path.map(pathTemplate).join(',');
  return String(path);
}

function resolve(app: unknown, path: string, walk: Walk): string | undefined {
  // A sub-app (`app.use('/admin', adminApp)`) is mounted through a closure the walk cannot
  // enter, but while it handles a request `req.app` is the sub-app, which knows its mount paths.
  let prefix = '';
  let rest = path;
  const mounts: unknown[] = [];
  for (let a = app as { mountpath?: unknown; parent?: unknown } | undefined; a?.parent !== undefined; ) {
    mounts.push(a.mountpath);
    a = a.parent as typeof a;
    if (mounts.length > MAX_DEPTH) return undefined;
  }
  for (let i = mounts.length - 1; i >= 0; i--) {
    const template = pathTemplate(mounts[i]);
    if (Array.isArray(mounts[i])) walk.variable = true;
    if (template !== '/') prefix += template;
    rest = dropSegments(rest, template);
  }
  const router = routerOf(app);
  if (router === undefined) return undefined;
  const found = search(router, rest, walk, 0);
  return found === undefined ? undefined : prefix + found;
}

/** Depth-first, in stack order, as the router itself would match. */
function search(router: RouterLike, path: string, walk: Walk, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  const stack = router.stack;
  for (let i = 0; i < stack.length; i++) {
    const layer = stack[i];
    if (layer.route === walk.route) {
      const m = matchLayer(layer, path, walk, true);
      if (m !== undefined) return m.template;
    } else if (layer.route === undefined && isRouter(layer.handle)) {
      const m = matchLayer(layer, path, walk, false);
      if (m === undefined) continue;
      let rest = path.slice(m.text.length);
      if (rest === '' || rest.charCodeAt(0) !== 0x2f) rest = '/' + rest;
      const found = search(layer.handle, rest, walk, depth + 1);
      if (found !== undefined) return (m.template === '/' ? '' : m.template) + found;
    }
  }
  return undefined;
}

/** How many chains of mounts lead from `router` to the layer of `route` (stops counting at 2). */
function countChains(router: RouterLike | undefined, route: RouteLike, depth: number): number {
  if (router === undefined || depth > MAX_DEPTH) return 2;
  let n = 0;
  for (const layer of router.stack) {
    if (layer.route === route) n++;
    else if (layer.route === undefined && isRouter(layer.handle)) n += countChains(layer.handle, route, depth + 1);
    if (n > 1) return n;
  }
  return n;
}

function matchLayer(layer: LayerLike, path: string, walk: Walk, isRoute: boolean): Matched | undefined {
  if (layer.rawPath !== undefined && typeof layer.match === 'function') return matchRouter23(layer, path, walk);
  if (layer.regexp instanceof RegExp) return matchExpress4(layer, path, walk, isRoute);
  if (Array.isArray(layer.matchers)) return matchRouter20(layer, path, walk, isRoute);
  return undefined;
}

function matchRouter23(layer: LayerLike, path: string, walk: Walk): Matched | undefined {
  const m = (layer.match as (p: string) => unknown)(path) as { path?: unknown; pattern?: unknown } | false;
  if (m === false || m === null || typeof m !== 'object' || typeof m.path !== 'string') return undefined;
  if (Array.isArray(layer.rawPath)) walk.variable = true;
  return { text: m.path, template: pathTemplate(m.pattern) };
}

function matchExpress4(layer: LayerLike, path: string, walk: Walk, isRoute: boolean): Matched | undefined {
  const regexp = layer.regexp as RegExp & { fast_slash?: boolean; fast_star?: boolean; [D_REGEXP]?: RegExp };
  if (regexp.fast_slash === true) return { text: '', template: '/' };
  if (regexp.fast_star === true) return { text: path, template: '*' };
  let withIndices = regexp[D_REGEXP];
  if (withIndices === undefined) {
    withIndices = new RegExp(regexp.source, regexp.flags.replace('g', '').replace('y', '') + 'd');
    regexp[D_REGEXP] = withIndices;
  }
  const m = withIndices.exec(path);
  if (m === null) return undefined;
  const routePath = isRoute ? layer.route?.path : undefined;
  if (typeof routePath === 'string' || routePath instanceof RegExp) return { text: m[0], template: pathTemplate(routePath) };
  if (Array.isArray(routePath)) walk.variable = true;
  // A mount compiled from a string ends in path-to-regexp 0.1's lookahead; a user's RegExp
  // (almost) never does, and then its source is the template.
  if (!isRoute && !regexp.source.endsWith(EXPRESS4_MOUNT_TAIL)) return { text: m[0], template: String(regexp) };
  // An array of paths compiles to `^a|^b`: which alternative matched varies by request.
  if (regexp.source.includes('|^')) walk.variable = true;
  return { text: m[0], template: withParams(m, layer.keys ?? []) };
}

function matchRouter20(layer: LayerLike, path: string, walk: Walk, isRoute: boolean): Matched | undefined {
  const matchers = layer.matchers as ((p: string) => unknown)[];
  if (matchers.length > 1) walk.variable = true;
  for (const matcher of matchers) {
    const m = matcher(path) as { path?: unknown; params?: Record<string, unknown> } | false;
    if (m === false || m === null || typeof m !== 'object' || typeof m.path !== 'string') continue;
    const routePath = isRoute ? layer.route?.path : undefined;
    if (typeof routePath === 'string' || routePath instanceof RegExp) return { text: m.path, template: pathTemplate(routePath) };
    return { text: m.path, template: substituteParams(m.path, m.params ?? {}) };
  }
  return undefined;
}

/** The matched text with every capture group written back as `:name` (`*` for unnamed ones). */
function withParams(m: RegExpExecArray, keys: readonly { name: string | number }[]): string {
  const text = m[0];
  const indices = m.indices;
  if (indices === undefined || m.length < 2) return text || '/';
  const start = indices[0][0];
  let out = '';
  let at = 0;
  for (let g = 1; g < m.length; g++) {
    const span = indices[g];
    if (span === undefined) continue;
    const from = span[0] - start;
    const to = span[1] - start;
    // Skip groups nested in one already written back, and empty optional ones.
    if (from < at || to === from) continue;
    const name = keys[g - 1]?.name;
    out += text.slice(at, from) + (typeof name === 'string' ? ':' + name : '*');
    at = to;
  }
  return out + text.slice(at) || '/';
}

/** Router 2.0-2.2: put `:name` back over each parameter's value, left to right. */
function substituteParams(text: string, params: Record<string, unknown>): string {
  let out = '';
  let at = 0;
  for (const name of Object.keys(params)) {
    const value = params[name];
    const s = Array.isArray(value) ? value.join('/') : typeof value === 'string' ? value : undefined;
    if (s === undefined || s === '') continue;
    const i = text.indexOf(s, at);
    if (i === -1) continue;
    out += text.slice(at, i) + (/^\d+$/.test(name) ? '*' : ':' + name);
    at = i + s.length;
  }
  return out + text.slice(at) || '/';
}

/** `path` without as many leading segments as `template` has (for sub-app mount paths). */
function dropSegments(path: string, template: string): string {
  let segments = 0;
  for (let i = 0; i < template.length; i++) if (template.charCodeAt(i) === 0x2f && i + 1 < template.length) segments++;
  let at = 0;
  for (let s = 0; s < segments && at !== -1; s++) at = path.indexOf('/', at + 1);
  return at === -1 ? '/' : path.slice(at) || '/';
}

function isRouter(handle: unknown): handle is RouterLike {
  return typeof handle === 'function' && Array.isArray((handle as Partial<RouterLike>).stack);
}

/** Express 4 keeps the app's router in `_router`; Express 5 behind a lazy `router` getter. */
function routerOf(app: unknown): RouterLike | undefined {
  if (app === null || (typeof app !== 'function' && typeof app !== 'object')) return undefined;
  const a = app as { _router?: unknown; router?: unknown };
  let router: unknown = a._router;
  // Express 4's `app.router` is a getter that throws (a 3.x migration notice): never touch it there.
  if (router === undefined && !('lazyrouter' in a)) router = a.router;
  if (router === null || (typeof router !== 'object' && typeof router !== 'function')) return undefined;
  return Array.isArray((router as RouterLike).stack) ? (router as RouterLike) : undefined;
}
