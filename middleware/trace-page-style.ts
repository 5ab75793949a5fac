/**
 * The trace page's stylesheet, inlined into the one HTML response (allowed by its hash in the
 * Content-Security-Policy). Light and dark follow the system setting.
 */
export const PAGE_STYLE = String.raw`
:root {
  --bg: #f6f7f9; --panel: #ffffff; --ink: #1b2330; --muted: #667085; --faint: #98a2b3;
  --line: #e4e7ec; --line-soft: #f0f2f5; --hover: #f2f5fa; --select: #e8f0fe; --select-line: #3b6fd8;
  --accent: #3b6fd8; --danger: #d92d20; --danger-bg: #fef3f2; --warn-bg: #fffaeb; --warn-ink: #93370d;
  --server: #3b82f6; --client: #8b5cf6; --producer: #f59e0b; --consumer: #0d9488; --local: #64748b;
  --error: #e5484d; --mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  --label-w: 36%;
  color-scheme: light;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1318; --panel: #161b22; --ink: #e6edf3; --muted: #9aa4b2; --faint: #6e7681;
    --line: #2a313c; --line-soft: #1f252e; --hover: #1c2330; --select: #1a2a44; --select-line: #58a6ff;
    --accent: #58a6ff; --danger: #ff6b6b; --danger-bg: #2d1517; --warn-bg: #2b2111; --warn-ink: #f0c36d;
    color-scheme: dark;
  }
}
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; }
body {
  background: var(--bg); color: var(--ink);
  font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  display: flex; flex-direction: column;
}
button { font: inherit; color: inherit; }
.top {
  display: flex; align-items: center; gap: 20px; padding: 10px 18px;
  background: var(--panel); border-bottom: 1px solid var(--line);
}
.brand { display: flex; align-items: baseline; gap: 8px; white-space: nowrap; }
.brand b { font-size: 15px; letter-spacing: 0.2px; }
.brand .sub { color: var(--muted); }
.logo { width: 10px; height: 10px; border-radius: 50%; background: var(--accent); align-self: center;
  box-shadow: 0 0 0 3px color-mix(in srgb, var(--accent) 25%, transparent); }
.stats { display: flex; flex-wrap: wrap; gap: 6px; flex: 1; }
.chip { display: inline-flex; gap: 5px; align-items: baseline; padding: 2px 8px; border-radius: 999px;
  background: var(--line-soft); border: 1px solid var(--line); color: var(--muted); white-space: nowrap; }
.chip b { color: var(--ink); font-weight: 600; font-variant-numeric: tabular-nums; }
.chip.bad { background: var(--danger-bg); border-color: color-mix(in srgb, var(--danger) 35%, transparent); color: var(--danger); }
.chip.bad b { color: var(--danger); }
.live { display: flex; align-items: center; gap: 6px; color: var(--muted); cursor: pointer; user-select: none; white-space: nowrap;
  background: none; border: 1px solid var(--line); border-radius: 6px; padding: 3px 10px; }
.live:hover { background: var(--hover); }
.live .pulse { width: 8px; height: 8px; border-radius: 50%; background: var(--faint); }
.live.on .pulse { background: #12b76a; animation: pulse 2s ease-in-out infinite; }
@keyframes pulse { 50% { opacity: 0.35; } }
.layout { flex: 1; display: flex; min-height: 0; }
.list-pane { width: 360px; min-width: 280px; display: flex; flex-direction: column;
  background: var(--panel); border-right: 1px solid var(--line); }
.tabs { display: flex; border-bottom: 1px solid var(--line); padding: 0 8px; }
.tab { flex: 1; background: none; border: 0; border-bottom: 2px solid transparent; padding: 10px 6px 8px;
  color: var(--muted); cursor: pointer; font-weight: 500; }
.tab:hover { color: var(--ink); }
.tab[aria-selected="true"] { color: var(--ink); border-bottom-color: var(--accent); }
.tab .count { display: inline-block; min-width: 20px; margin-left: 4px; padding: 0 6px; border-radius: 999px;
  background: var(--line-soft); color: var(--muted); font-size: 11px; font-variant-numeric: tabular-nums; }
.tab.failed-tab .count.some { background: var(--danger-bg); color: var(--danger); }
.banner { margin: 10px; padding: 8px 10px; border-radius: 6px; background: var(--warn-bg); color: var(--warn-ink);
  border: 1px solid color-mix(in srgb, var(--warn-ink) 25%, transparent); }
.banner code { font-family: var(--mono); font-size: 12px; }
.traces { list-style: none; margin: 0; padding: 0; overflow-y: auto; flex: 1; }
.trace-item { display: block; width: 100%; text-align: left; background: none; border: 0;
  border-bottom: 1px solid var(--line-soft); border-left: 3px solid transparent; padding: 8px 12px 8px 11px; cursor: pointer; }
.trace-item:hover { background: var(--hover); }
.trace-item[aria-current="true"] { background: var(--select); border-left-color: var(--select-line); }
.trace-item .l1 { display: flex; align-items: center; gap: 8px; }
.trace-item .t-name { flex: 1; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.trace-item .t-dur { font-family: var(--mono); font-size: 12px; font-variant-numeric: tabular-nums; }
.trace-item .l2 { display: flex; gap: 6px; color: var(--muted); font-size: 12px; margin-top: 2px; white-space: nowrap; overflow: hidden; }
.trace-item .l2 .err { color: var(--danger); font-weight: 500; }
.trace-item .mini { height: 3px; margin-top: 6px; border-radius: 2px; background: var(--line-soft); overflow: hidden; }
.trace-item .mini i { display: block; height: 100%; background: color-mix(in srgb, var(--accent) 55%, transparent); border-radius: 2px; }
.trace-item.failed .mini i { background: color-mix(in srgb, var(--danger) 60%, transparent); }
.dot { width: 8px; height: 8px; border-radius: 50%; background: #12b76a; flex: none; }
.failed .dot { background: var(--danger); }
.empty { color: var(--muted); padding: 28px 16px; text-align: center; }
.detail-pane { flex: 1; overflow: auto; min-width: 0; }
.detail-pane > .empty { margin-top: 12vh; font-size: 14px; }
.wf-head { padding: 16px 20px 12px; background: var(--panel); border-bottom: 1px solid var(--line); }
.wf-title { margin: 0 0 4px; font-size: 17px; font-weight: 600; display: flex; align-items: center; gap: 10px; word-break: break-all; }
.wf-title .badge-err { font-size: 11px; font-weight: 600; color: var(--danger); background: var(--danger-bg); border-radius: 4px; padding: 1px 6px; }
.wf-meta { display: flex; flex-wrap: wrap; gap: 4px 16px; color: var(--muted); font-size: 12px; }
.wf-meta b { color: var(--ink); font-weight: 500; }
.wf-meta .mono, .mono { font-family: var(--mono); font-size: 12px; }
.wf-meta .trace-id-item { flex-basis: 100%; }
.wf-meta .trace-id { font-size: 15px; user-select: all; -webkit-user-select: all; padding: 1px 6px; border: 1px solid var(--line); border-radius: 4px; }
.wf-error { margin-top: 8px; color: var(--danger); }
.wf { position: relative; margin: 12px 20px 24px; background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.wf-axis, .span-row { display: grid; grid-template-columns: var(--label-w) 1fr; }
.wf-axis { position: sticky; top: 0; z-index: 3; background: var(--panel); border-bottom: 1px solid var(--line);
  color: var(--muted); font-size: 11px; height: 28px; }
.wf-axis .axis-label { padding: 6px 12px; text-transform: uppercase; letter-spacing: 0.5px; font-weight: 600; border-right: 1px solid var(--line); }
.track { position: relative; margin: 0 72px 0 12px; }
.tick { position: absolute; top: 7px; transform: translateX(-50%); font-family: var(--mono); font-variant-numeric: tabular-nums; white-space: nowrap; }
.tick:first-child { transform: none; }
.grid { position: absolute; top: 28px; bottom: 0; left: var(--label-w); right: 0; pointer-events: none; z-index: 0; }
.grid .track { height: 100%; }
.grid i { position: absolute; top: 0; bottom: 0; width: 1px; background: var(--line-soft); }
.span-row { position: relative; z-index: 1; cursor: pointer; min-height: 30px; border-bottom: 1px solid var(--line-soft); }
.span-row:hover { background: color-mix(in srgb, var(--hover) 80%, transparent); }
.span-row[aria-expanded="true"] { background: var(--select); }
.span-label { display: flex; align-items: center; gap: 6px; min-width: 0; padding: 5px 12px 5px 12px; border-right: 1px solid var(--line); }
.span-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.span-row.error .span-name { color: var(--danger); }
.span-service { color: var(--faint); font-size: 11px; white-space: nowrap; }
.twig { flex: none; width: 10px; height: 15px; margin-right: -2px; border-left: 1px solid var(--faint); border-bottom: 1px solid var(--faint);
  border-bottom-left-radius: 4px; transform: translateY(-6px); opacity: 0.7; }
.kind { flex: none; font-size: 9.5px; font-weight: 700; letter-spacing: 0.4px; padding: 1px 5px; border-radius: 3px; color: #fff; background: var(--local); }
.k-server { background: var(--server); } .k-client { background: var(--client); }
.k-producer { background: var(--producer); } .k-consumer { background: var(--consumer); }
.span-row .track { height: 100%; }
.bar { position: absolute; top: 8px; height: 14px; min-width: 2px; border-radius: 3px; background: var(--local); }
.bar.k-server { background: var(--server); } .bar.k-client { background: var(--client); }
.bar.k-producer { background: var(--producer); } .bar.k-consumer { background: var(--consumer); }
.bar.error { background: var(--error); background-image: repeating-linear-gradient(135deg, transparent 0 5px, rgba(255,255,255,0.18) 5px 10px); }
.note { position: absolute; top: -3px; bottom: -3px; width: 2px; margin-left: -1px; border-radius: 1px; background: var(--ink); opacity: 0.8; }
.note.err { background: var(--danger); opacity: 1; }
.bar.error .note.err { background: var(--ink); }
.note-span { position: absolute; top: 3px; bottom: 3px; border-radius: 2px; background: rgba(255,255,255,0.45); }
.dur { position: absolute; top: 7px; font-family: var(--mono); font-size: 11px; color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
.dur.after { margin-left: 6px; }
.dur.before { margin-right: 6px; }
.dur.inside { color: #fff; margin-right: 6px; }
.span-detail { position: relative; z-index: 2; background: var(--panel); border-bottom: 1px solid var(--line);
  padding: 10px 16px 14px; box-shadow: inset 3px 0 0 var(--select-line); }
.span-detail h4 { margin: 10px 0 4px; font-size: 11px; text-transform: uppercase; letter-spacing: 0.5px; color: var(--muted); }
.span-detail h4:first-child { margin-top: 0; }
.kv { display: grid; grid-template-columns: minmax(120px, max-content) 1fr; gap: 2px 16px; margin: 0; }
.kv dt { color: var(--muted); font-family: var(--mono); font-size: 12px; }
.kv dd { margin: 0; font-family: var(--mono); font-size: 12px; white-space: pre-wrap; word-break: break-word; }
.kv dd.err { color: var(--danger); }
.legend { display: flex; gap: 14px; padding: 0 20px 20px; color: var(--muted); font-size: 12px; flex-wrap: wrap; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.legend i { width: 10px; height: 10px; border-radius: 2px; display: inline-block; background: var(--local); }
.legend i.k-server { background: var(--server); } .legend i.k-client { background: var(--client); }
.legend i.k-producer { background: var(--producer); } .legend i.k-consumer { background: var(--consumer); }
.legend i.error { background: var(--error); } .legend i.note { position: static; width: 2px; height: 12px; background: var(--ink); margin: 0; }
`;
