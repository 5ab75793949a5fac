/**
 * SQL text helpers for the Knex integration: what a query's operation and table are, how long a
 * statement may be, the sqlcommenter comment, and how an error message loses its binding values.
 * Pure functions: no Knex, no tracer.
 */

/** Knex's `toSQL().method` → the operation recorded as span name and `db.operation`. */
const OPERATIONS: Readonly<Record<string, string>> = {
  select: 'select',
  first: 'select',
  pluck: 'select',
  insert: 'insert',
  update: 'update',
  counter: 'update',
  del: 'delete',
  delete: 'delete',
  upsert: 'upsert',
  truncate: 'truncate',
  raw: 'raw',
};

const MAX_KEYWORD = 16;

/**
 * The operation of a statement: Knex's method name mapped to SQL (`del` → `delete`, `first` →
 * `select`, `raw` stays `raw`); for statements without a known method (schema builders,
 * `columnInfo`) the statement's first keyword, lower-cased (`create`, `alter`, `pragma`); else `query`.
 */
export function operationOf(method: unknown, sql: string): string {
  if (typeof method === 'string') {
    const known = OPERATIONS[method];
    if (known !== undefined) return known;
  }
  let start = 0;
  while (start < sql.length && sql.charCodeAt(start) <= 32) start++;
  let end = start;
  while (end < sql.length && end - start < MAX_KEYWORD && isLetter(sql.charCodeAt(end))) end++;
  return end > start ? sql.slice(start, end).toLowerCase() : 'query';
}

/**
 * The table a builder works on, when Knex knows it: a query builder's `table`/`from`/`into`
 * (without an alias: `users as u` → `users`), or the table of a schema builder with one step.
 */
export function tableOf(builder: Record<string, unknown>): string | undefined {
  const single = builder._single as Record<string, unknown> | undefined;
  if (single !== undefined && single !== null && typeof single === 'object') return tableName(single.table);
  const sequence = builder._sequence;
  if (Array.isArray(sequence) && sequence.length === 1) {
    const args = (sequence[0] as { args?: unknown[] } | undefined)?.args;
    if (Array.isArray(args) && typeof args[0] === 'string') return tableName(args[0]);
  }
  return undefined;
}

function tableName(table: unknown): string | undefined {
  if (typeof table === 'string') {
    if (table.indexOf(' ') === -1) return table || undefined;
    const alias = /\s+as\s+/i.exec(table);
    return (alias === null ? table : table.slice(0, alias.index)).trim() || undefined;
  }
  // `knex({ u: 'users' })`: an alias object with one entry. Raw tables and subqueries have no name.
  if (table !== null && typeof table === 'object' && (table as { constructor?: unknown }).constructor === Object) {
    const values = Object.values(table);
    if (values.length === 1 && typeof values[0] === 'string') return tableName(values[0]);
  }
  return undefined;
}

/**
 * `text` cut to at most `maxLength` characters, ending in `…` when cut (never splitting a
 * surrogate pair).
 */
export function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  let end = maxLength - 1;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, Math.max(0, end)) + '…';
}

/**
 * A sqlcommenter comment, `/*key='value',…*\/`, keys sorted. Keys and values are URL-encoded and
 * `'` is escaped, as the sqlcommenter spec says; URL encoding turns every `/` into `%2F`, so the
 * body can contain neither `*\/` (which would close the comment) nor `/*` (which opens a nested
 * comment in PostgreSQL). Returns '' when there is nothing to say.
 */
export function sqlComment(pairs: Record<string, string>): string {
  let body = '';
  for (const key of Object.keys(pairs).sort()) {
    const value = pairs[key];
    if (typeof value !== 'string' || value === '') continue;
    if (body !== '') body += ',';
    body += escapeCommentPart(key) + "='" + escapeCommentPart(value) + "'";
  }
  // Unreachable with the escaping above; kept so that no future edit can open a way out.
  if (body === '' || body.includes('*/') || body.includes('/*')) return '';
  return '/*' + body + '*/';
}

function escapeCommentPart(text: string): string {
  return encodeURIComponent(text).replace(/'/g, "\\'");
}

/**
 * `sql` with `comment` appended, as sqlcommenter places it: after the statement, before a
 * trailing semicolon. A line comment on the last line (`--`, or MySQL's `#`) would swallow it,
 * so it then goes on a new line: a line comment ends there in every dialect, and the comment
 * stays the statement's last part, where sqlcommenter's readers look for it. The check is for
 * the characters anywhere in the last line (a `#` in a string, PostgreSQL's `#` operator): a
 * newline between tokens never changes a statement, so a false alarm costs nothing.
 */
export function appendComment(sql: string, comment: string): string {
  if (comment === '') return sql;
  let end = sql.length;
  while (end > 0 && sql.charCodeAt(end - 1) <= 32) end--;
  let semicolon = '';
  if (end > 0 && sql.charCodeAt(end - 1) === 59 /* ; */) {
    semicolon = ';';
    end--;
  }
  const head = sql.slice(0, end);
  const lastLine = head.lastIndexOf('\n') + 1;
  const lineComment = head.indexOf('--', lastLine) !== -1 || head.indexOf('#', lastLine) !== -1;
  return head + (lineComment ? '\n' : ' ') + comment + semicolon;
}

/**
 * An error message fit to export: Knex's prefix (the statement with its binding values written
 * in, then ` - `) removed, leaving the driver's message; then, unless `keepValues`, every binding
 * value still in it (drivers quote some, as MySQL's `Duplicate entry 'x'` does) replaced by `?`.
 * `sql` is the statement as Knex sent it (the query object's `sql` at the time of the error).
 */
export function scrubErrorMessage(message: string, sql: string, bindings: unknown, keepValues: boolean): string {
  const cut = knexPrefixEnd(message, sql);
  let text = cut > 0 ? message.slice(cut) : message;
  if (!keepValues && Array.isArray(bindings) && bindings.length > 0) text = replaceValues(text, bindings);
  return text;
}

/** Where Knex's `<statement with values> - ` prefix ends in `message`, or -1 if it has none. */
function knexPrefixEnd(message: string, sql: string): number {
  if (sql === '') return -1;
  const first = sql.indexOf('?');
  if (first === -1) {
    // No placeholders left (none, or PostgreSQL's $1): Knex wrote the statement as it is.
    return message.startsWith(sql) && message.startsWith(' - ', sql.length) ? sql.length + 3 : -1;
  }
  // Values were written over the placeholders: the text before the first and after the last
  // placeholder is verbatim. The last ` - ` after that tail is the separator: searching from the
  // end means a value that itself contains the tail and ` - ` can only make us cut more, never less.
  const head = sql.slice(0, first);
  if (!message.startsWith(head)) return -1;
  const tail = sql.slice(sql.lastIndexOf('?') + 1) + ' - ';
  const at = message.lastIndexOf(tail);
  return at >= head.length ? at + tail.length : -1;
}

/** `text` with each binding value (as text, and as Knex/MySQL escape it) replaced by `?`. */
function replaceValues(text: string, bindings: readonly unknown[]): string {
  const forms = new Set<string>();
  for (const value of bindings) addForms(forms, value);
  // Longest first, so a value that contains a shorter one is replaced whole.
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  for (const form of sorted) text = replaceToken(text, form);
  return text;
}

function addForms(forms: Set<string>, value: unknown): void {
  let text: string | undefined;
  try {
    if (typeof value === 'string') text = value;
    else if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') text = String(value);
    else if (value instanceof Date) text = Number.isNaN(value.getTime()) ? undefined : value.toISOString();
    else if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value)) text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined || text === '') return;
  forms.add(text);
  if (text.includes("'")) forms.add(text.replace(/'/g, "''")).add(text.replace(/'/g, "\\'"));
  if (text.includes('"')) forms.add(text.replace(/"/g, '""'));
}

/**
 * Replaces `form` in `text` where it stands as a value does: where its first or last character is
 * a word character, the neighbour there must not be one, so the binding `1` is replaced in
 * `entry '1'` but leaves the `1` of `users_1_key` alone.
 */
function replaceToken(text: string, form: string): string {
  const wordStart = isWordChar(form.charCodeAt(0));
  const wordEnd = isWordChar(form.charCodeAt(form.length - 1));
  let out = '';
  let from = 0;
  let at = text.indexOf(form);
  while (at !== -1) {
    const after = at + form.length;
    const bounded =
      (!wordStart || at === 0 || !isWordChar(text.charCodeAt(at - 1))) &&
      (!wordEnd || after === text.length || !isWordChar(text.charCodeAt(after)));
    if (bounded) {
      out += text.slice(from, at) + '?';
      from = after;
      at = text.indexOf(form, after);
    } else {
      at = text.indexOf(form, at + 1);
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Binding values as the `db.bindings` tag shows them (only with `includeBindings: true`): JSON,
 * with buffers as `<Buffer n bytes>` and bigints as strings.
 */
export function formatBindings(bindings: unknown): string {
  try {
    return JSON.stringify(bindings, (_key, value: unknown) => {
      if (typeof value === 'bigint') return value.toString();
      if (value !== null && typeof value === 'object') {
        const buffer = value as { type?: unknown; data?: unknown };
        if (buffer.type === 'Buffer' && Array.isArray(buffer.data)) return `<Buffer ${buffer.data.length} bytes>`;
      }
      return value;
    }) ?? '';
  } catch {
    return '[unserializable bindings]';
  }
}

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}

function isWordChar(code: number): boolean {
  return (code >= 48 && code <= 57) || isLetter(code) || code > 127;
}
