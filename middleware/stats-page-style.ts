/** Deepest indentation class the stylesheet defines; deeper rows share it. */
export const MAX_DEPTH_CLASS = 12;

const depthRules = Array.from(
  { length: MAX_DEPTH_CLASS + 1 },
  (_, depth) => `.d${depth} > .name { padding-left: ${(0.75 + depth * 1.25).toFixed(2)}em; }`,
).join('\n');

/**
 * The stats page's stylesheet, inlined into each HTML response (allowed by its hash in the
 * Content-Security-Policy; the page has no script). Same palette as the trace page; light and
 * dark follow the system setting. Value cells have fixed widths, so every histogram's fields
 * line up under the header row.
 */
export const STATS_STYLE = String.raw`
:root {
  --bg: #f6f7f9; --panel: #ffffff; --ink: #1b2330; --muted: #667085; --faint: #98a2b3;
  --line: #e4e7ec; --line-soft: #f0f2f5; --hover: #f2f5fa; --accent: #3b6fd8; --bar: #9db7ee;
  --counter: #3b82f6; --gauge: #0d9488; --histogram: #8b5cf6; --meter: #f59e0b; --group: #64748b;
  --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  color-scheme: light;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1318; --panel: #161b22; --ink: #e6edf3; --muted: #9aa4b2; --faint: #6e7681;
    --line: #2a313c; --line-soft: #1f252e; --hover: #1c2330; --accent: #58a6ff; --bar: #2f4f86;
    color-scheme: dark;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
header.top {
  display: flex; flex-wrap: wrap; align-items: center; gap: 8px 18px; padding: 10px 16px;
  background: var(--panel); border-bottom: 1px solid var(--line);
}
.brand { display: flex; align-items: baseline; gap: 8px; }
.brand b { font-size: 15px; }
.brand .sub { color: var(--muted); }
nav.crumbs { font-family: var(--mono); }
nav.crumbs .sep { color: var(--faint); margin: 0 4px; }
.formats { display: flex; gap: 10px; color: var(--muted); }
form.query { display: flex; gap: 6px; margin-left: auto; }
form.query input {
  font: 12px var(--mono); width: 22em; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--ink);
}
form.query button {
  font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--ink);
}
main { padding: 12px 16px 24px; overflow-x: auto; }
.notice { color: var(--muted); padding: 12px 0; }
.taken { color: var(--faint); font-size: 12px; margin-top: 10px; }
table.stats { border-collapse: collapse; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; }
table.stats th, table.stats td { padding: 3px 6px; border-bottom: 1px solid var(--line-soft); white-space: nowrap; }
table.stats thead th {
  position: sticky; top: 0; background: var(--panel); color: var(--muted); font-weight: 600; font-size: 11px;
  text-transform: uppercase; letter-spacing: .04em; text-align: right; border-bottom: 1px solid var(--line);
}
table.stats thead th.name, table.stats thead th.type { text-align: left; }
table.stats tbody tr:hover { background: var(--hover); }
td.name { font-family: var(--mono); min-width: 14em; }
td.name .desc { font-family: system-ui, sans-serif; font-weight: normal; color: var(--muted); margin-left: 8px; font-size: 12px; }
tr.group td.name { font-weight: 600; }
tr.series td.name { color: var(--muted); }
td.type { font-size: 11px; }
td.type span { padding: 1px 6px; border-radius: 9px; color: #fff; }
.t-counter { background: var(--counter); } .t-gauge { background: var(--gauge); }
.t-histogram { background: var(--histogram); } .t-meter { background: var(--meter); }
.t-group { background: var(--group); }
td.v { font-family: var(--mono); text-align: right; width: 5.9em; min-width: 5.9em; font-variant-numeric: tabular-nums; }
td.v .k { color: var(--faint); margin-right: 4px; font-size: 11px; }
td.v .u { color: var(--faint); margin-left: 2px; font-size: 11px; }
td.v svg { display: block; margin: 1px 0 0 auto; }
td.v svg rect.track { fill: var(--line-soft); } td.v svg rect.fill { fill: var(--bar); }
td.v.none { color: var(--faint); }
td.v.text { text-align: left; }
${depthRules}
`;
