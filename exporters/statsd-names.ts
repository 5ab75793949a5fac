import type { FinishedSpan } from '../lib/types';

// Everything outside [A-Za-z0-9_-], taken as runs, so `GET /users/:id` needs one replace.
const UNSAFE_RUNS = /[^A-Za-z0-9_-]+/g;
const EDGE_UNDERSCORES = /^_+|_+$/g;

/**
 * Makes one segment of a metric name safe for StatsD and Graphite: every run of characters
 * outside `[A-Za-z0-9_-]` becomes one `_`, leading and trailing `_` are dropped, and an empty
 * result becomes `_`. So `GET /users/:id` becomes `GET_users_id`, and `a.b` becomes `a_b` (a dot
 * would open a new level of the Graphite tree).
 */
export function sanitizeSegment(value: string): string {
  const text = typeof value === 'string' ? value : String(value);
  const safe = text.replace(UNSAFE_RUNS, '_').replace(EDGE_UNDERSCORES, '');
  return safe === '' ? '_' : safe;
}

/**
 * Makes a prefix safe while keeping its dots as tree levels: `stats.my app` becomes
 * `stats.my_app`. Empty parts are dropped, so `''` (or `'.'`) means no prefix at all.
 */
export function sanitizePrefix(prefix: string): string {
  return prefix
    .split('.')
    .filter((part) => part !== '')
    .map(sanitizeSegment)
    .join('.');
}

/** The metric names (and, with `tags: true`, the tags) of one note on one kind of span. */
export interface NoteMetric {
  readonly name: string;
  /** DogStatsD/Telegraf tags, `key:value`; undefined in the hierarchical scheme. */
  readonly tags: string[] | undefined;
}

/**
 * The cached metrics of one place in the local span tree (hierarchical scheme) or of one
 * service and span name (tagged scheme). Built once, then every span that lands here reuses the
 * strings: the export loop only looks them up.
 */
export interface SpanMetrics {
  /** Timer name for a span without `error`. */
  readonly okName: string;
  /** Timer name for a span with `error`. */
  readonly errorName: string;
  readonly okTags: string[] | undefined;
  readonly errorTags: string[] | undefined;
}

interface Node extends SpanMetrics {
  /** Hierarchical: `<prefix>.<service>.<host>.<root>[.children.<child>]...`. Tagged: the span tag. */
  readonly path: string;
  /** Tagged scheme: the `service:` tag. */
  readonly serviceTag: string | undefined;
  children: Map<string, Node> | undefined;
  notes: Map<string, NoteMetric> | undefined;
}

/** Options for `MetricNames`. */
export interface MetricNamesOptions {
  /** Sanitised prefix, without a trailing dot; `''` for none. */
  prefix: string;
  /** The host segment, raw (sanitised here). */
  hostname: string;
  /** True: DogStatsD/Telegraf names and tags instead of the hierarchical tree. */
  tags: boolean;
  /** Cached names at most (places in the tree plus notes); past it the cache starts over. */
  maxNames: number;
}

/**
 * Metric names for finished spans, as DESIGN.md ("StatsD") defines them, following carpy's
 * hierarchical model:
 *
 *     <prefix>.<service>.<host>.<root span>[.children.<child span>]....ok|.error   timer
 *     <prefix>.<service>.<host>.<root span>[.children.<child span>]....notes.<note> counter
 *
 * `<root span>` is the local root (found by walking `localParent`), and `<service>` is the local
 * root's service, so a whole local tree sits under one branch. With `tags: true` the names are
 * `<prefix>.span` (timer) and `<prefix>.note` (counter), with tags `service`, `span`, `status`
 * and `note`; tag values are sanitised like segments, which every StatsD dialect accepts.
 *
 * The names are cached in a tree keyed by raw span names, so a span costs a few `Map` lookups
 * and no string building. The cache is bounded by `maxNames`: when a service produces more
 * distinct names than that (say a span named after each URL), the cache starts over rather than
 * grow, trading some rebuilding for a fixed memory ceiling.
 */
export class MetricNames {
  private readonly base: string;
  private readonly hostSegment: string;
  private readonly tagged: boolean;
  private readonly maxNames: number;
  private readonly spanName: string;
  private readonly noteName: string;
  private roots = new Map<string, Map<string, Node>>();
  private size = 0;
  // Reused for every walk up the local tree, so naming a span allocates nothing.
  private readonly chain: (FinishedSpan | undefined)[] = [];

  constructor(options: MetricNamesOptions) {
    this.base = options.prefix === '' ? '' : options.prefix + '.';
    this.hostSegment = sanitizeSegment(options.hostname);
    this.tagged = options.tags;
    this.maxNames = options.maxNames;
    this.spanName = this.base + 'span';
    this.noteName = this.base + 'note';
  }

  /** Names currently cached (places in the tree plus notes). */
  get cached(): number {
    return this.size;
  }

  /** The metrics for `span`'s place: its local tree path, or its service and name when tagged. */
  forSpan(span: FinishedSpan): SpanMetrics {
    if (this.tagged) return this.root(span.service, span.name);
    const chain = this.chain;
    let depth = 0;
    let current = span;
    while (current.localParent !== undefined) {
      chain[depth++] = current;
      current = current.localParent;
    }
    let node = this.root(current.service, current.name);
    for (let i = depth - 1; i >= 0; i--) {
      node = this.child(node, (chain[i] as FinishedSpan).name);
      chain[i] = undefined; // do not keep finished spans alive from the scratch array
    }
    return node;
  }

  /** The counter for a note with `value` on a span whose metrics are `metrics`. */
  forNote(metrics: SpanMetrics, value: string): NoteMetric {
    const node = metrics as Node;
    let notes = node.notes;
    if (notes === undefined) notes = node.notes = new Map();
    let note = notes.get(value);
    if (note === undefined) {
      const segment = sanitizeSegment(value);
      note = this.tagged
        ? { name: this.noteName, tags: [node.serviceTag as string, 'span:' + node.path, 'note:' + segment] }
        : { name: node.path + '.notes.' + segment, tags: undefined };
      this.count();
      notes.set(value, note);
    }
    return note;
  }

  private root(service: string, name: string): Node {
    let node = this.roots.get(service)?.get(name);
    if (node === undefined) {
      node = this.tagged
        ? this.taggedNode(service, name)
        : this.node(`${this.base}${sanitizeSegment(service)}.${this.hostSegment}.${sanitizeSegment(name)}`);
      this.count();
      // After count(): a cache that just started over holds this node in a fresh map.
      this.mapFor(service).set(name, node);
    }
    return node;
  }

  private child(parent: Node, name: string): Node {
    let children = parent.children;
    if (children === undefined) children = parent.children = new Map();
    let node = children.get(name);
    if (node === undefined) {
      node = this.node(parent.path + '.children.' + sanitizeSegment(name));
      this.count();
      children.set(name, node);
    }
    return node;
  }

  private node(path: string): Node {
    return {
      okName: path + '.ok',
      errorName: path + '.error',
      okTags: undefined,
      errorTags: undefined,
      path,
      serviceTag: undefined,
      children: undefined,
      notes: undefined,
    };
  }

  private taggedNode(service: string, name: string): Node {
    const serviceTag = 'service:' + sanitizeSegment(service);
    const span = sanitizeSegment(name);
    return {
      okName: this.spanName,
      errorName: this.spanName,
      okTags: [serviceTag, 'span:' + span, 'status:ok'],
      errorTags: [serviceTag, 'span:' + span, 'status:error'],
      path: span,
      serviceTag,
      children: undefined,
      notes: undefined,
    };
  }

  private mapFor(service: string): Map<string, Node> {
    let byName = this.roots.get(service);
    if (byName === undefined) {
      byName = new Map();
      this.roots.set(service, byName);
    }
    return byName;
  }

  /** Counts one new name; past the cap, forgets every cached name (nodes in use stay valid). */
  private count(): void {
    if (this.size >= this.maxNames) {
      this.roots = new Map();
      this.size = 0;
    }
    this.size++;
  }
}
