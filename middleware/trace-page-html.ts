import { createHash } from 'node:crypto';
import { PAGE_SCRIPT } from './trace-page-script';
import { PAGE_STYLE } from './trace-page-style';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function sha256(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * The Content-Security-Policy of the page: only the inline script and stylesheet whose hashes
 * are listed may run, requests go to this origin only, nothing may frame the page, no form
 * posts, no plugins. Computed once: the script and stylesheet never change.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(PAGE_SCRIPT)}`,
  `style-src ${sha256(PAGE_STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The policy of the JSON responses: they load nothing and may run nothing. */
export const JSON_CSP = "default-src 'none'; frame-ancestors 'none'";

/**
 * The start of both pages' documents, up to `<body>`: no referrer, no favicon request, the
 * stylesheet inline (the CSP allows no other). `title` must be escaped already.
 */
export function documentHead(title: string, style: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${title}</title>
<style>${style}</style>
</head>
<body>`;
}

/**
 * The whole page: one HTML document with its stylesheet and script inline. Nothing from the
 * request goes into it; `title` (an option) is escaped.
 */
export function renderPage(title: string): string {
  const t = escapeHtml(title);
  return `${documentHead(t, PAGE_STYLE)}
<header class="top">
  <div class="brand"><span class="logo"></span><b>${t}</b><span class="sub">live traces</span></div>
  <div id="stats" class="stats" aria-label="tracer counters"></div>
  <button id="live" class="live on" type="button" aria-pressed="true" title="Refresh every 3 seconds"><span class="pulse"></span>Live</button>
</header>
<main class="layout">
  <aside class="list-pane">
    <nav class="tabs" role="tablist">
      <button class="tab" type="button" role="tab" data-view="recent" aria-selected="true">Recent<span class="count">0</span></button>
      <button class="tab" type="button" role="tab" data-view="slowest" aria-selected="false">Slowest<span class="count">0</span></button>
      <button class="tab failed-tab" type="button" role="tab" data-view="failed" aria-selected="false">Failed<span class="count">0</span></button>
    </nav>
    <div id="banner" class="banner" role="status" hidden></div>
    <ol id="traces" class="traces"></ol>
  </aside>
  <section id="detail" class="detail-pane" aria-live="polite"></section>
</main>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
