/**
 * The Zipkin v2 span schema (`definitions.Span` of /work/shared/contracts/zipkin2-api.yaml, the
 * openzipkin/zipkin-api Swagger file) as an ajv validator, for any test that checks what would
 * reach a Zipkin collector.
 *
 * The Swagger file's `pattern`s are not anchored, so under JSON Schema rules a 20-character id
 * with 16 hex digits somewhere in it would pass. Zipkin itself requires the whole id to be
 * lower-case hex, so by default the patterns are anchored (`^...$`); pass `{ anchored: false }`
 * to validate against the file exactly as written.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { load } from 'js-yaml';

const SHARED_CONTRACT = path.resolve(__dirname, '../../../shared/contracts/zipkin2-api.yaml');

/**
 * Where the contract is read from: `ZIPKIN_CONTRACT` when set, else the team's shared copy
 * (`/work/shared/contracts`), else the identical copy in `__tests__/fixtures` (for checkouts
 * without the shared folder, such as CI).
 */
export const ZIPKIN_CONTRACT_PATH =
  process.env.ZIPKIN_CONTRACT ??
  (existsSync(SHARED_CONTRACT) ? SHARED_CONTRACT : path.resolve(__dirname, '../fixtures/zipkin2-api.yaml'));

type Definitions = Record<string, unknown>;

let cachedDefinitions: Definitions | undefined;

/** The `definitions` of the Swagger file, parsed once. */
export function zipkinDefinitions(): Definitions {
  if (cachedDefinitions === undefined) {
    const doc = load(readFileSync(ZIPKIN_CONTRACT_PATH, 'utf8')) as { definitions?: Definitions };
    if (doc === null || typeof doc !== 'object' || doc.definitions === undefined) {
      throw new Error(`${ZIPKIN_CONTRACT_PATH} has no definitions`);
    }
    cachedDefinitions = doc.definitions;
  }
  return cachedDefinitions;
}

/** A deep copy of `value` with every `pattern` anchored at both ends. */
function anchorPatterns(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(anchorPatterns);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (key === 'pattern' && typeof inner === 'string') {
      out[key] = `${inner.startsWith('^') ? '' : '^'}${inner}${inner.endsWith('$') ? '' : '$'}`;
    } else {
      out[key] = anchorPatterns(inner);
    }
  }
  return out;
}

const validators = new Map<string, ValidateFunction>();

/**
 * An ajv validator for one definition (`Span` by default; `ListOfSpans` for a POST body).
 * The `#/definitions/...` references resolve inside the contract document.
 */
export function zipkinValidator(definition = 'Span', options: { anchored?: boolean } = {}): ValidateFunction {
  const anchored = options.anchored !== false;
  const key = `${definition}:${anchored}`;
  let validate = validators.get(key);
  if (validate === undefined) {
    // strict: false, since Swagger keywords (`example`) are not JSON Schema; allErrors for messages.
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const definitions = anchored ? anchorPatterns(zipkinDefinitions()) : zipkinDefinitions();
    ajv.addSchema({ $id: 'zipkin2-api', definitions }, 'zipkin2-api');
    const compiled = ajv.getSchema(`zipkin2-api#/definitions/${definition}`);
    if (compiled === undefined) throw new Error(`no definition ${definition} in ${ZIPKIN_CONTRACT_PATH}`);
    validate = compiled;
    validators.set(key, validate);
  }
  return validate;
}

function describe(errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`);
}

/** What is wrong with one span, as readable lines; empty when it is a valid Zipkin v2 span. */
export function zipkinSpanErrors(span: unknown, options?: { anchored?: boolean }): string[] {
  const validate = zipkinValidator('Span', options);
  return validate(span) ? [] : describe(validate.errors);
}

/** What is wrong with a POST body (a JSON array of spans); empty when valid. */
export function zipkinBodyErrors(body: unknown, options?: { anchored?: boolean }): string[] {
  const validate = zipkinValidator('ListOfSpans', options);
  return validate(body) ? [] : describe(validate.errors);
}

/** Throws, listing every problem, unless `spans` are all valid Zipkin v2 spans. */
export function assertValidZipkinSpans(spans: readonly unknown[], options?: { anchored?: boolean }): void {
  const problems: string[] = [];
  spans.forEach((span, i) => {
    for (const line of zipkinSpanErrors(span, options)) problems.push(`span ${i}: ${line}`);
  });
  if (problems.length > 0) {
    throw new Error(`invalid Zipkin spans:\n${problems.join('\n')}\n${JSON.stringify(spans).slice(0, 2000)}`);
  }
}
