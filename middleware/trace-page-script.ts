/**
 * The trace page's script, inlined into the one HTML response (allowed by its hash in the
 * Content-Security-Policy). It fetches `traces.json` and `stats.json` next to the page and builds
 * every element with `createElement` and `textContent`: no data ever passes through `innerHTML`,
 * so a span named `<img src=x onerror=...>` is shown as text. Plain ES2017, no dependencies.
 * (Kept as a string, not a compiled function: coverage instrumentation would rewrite a function.)
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var POLL_MS = 3000;
  var TRACE_ID = /^[0-9a-f]{32}$/;
  // Same origin always: the page's own path, with one trailing slash.
  var base = location.origin + location.pathname.replace(/\/*$/, '/');
  var state = { view: 'recent', lists: null, stats: null, selected: null, trace: null, open: {}, live: true, timer: 0 };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) if (arguments[i]) parent.appendChild(arguments[i]);
    return parent;
  }

  function fmtDur(us) {
    if (!(us >= 0)) return '';
    if (us < 1000) return Math.round(us) + ' \u00b5s';
    var ms = us / 1000;
    if (ms < 10) return ms.toFixed(2) + ' ms';
    if (ms < 100) return ms.toFixed(1) + ' ms';
    if (ms < 10000) return Math.round(ms) + ' ms';
    return (ms / 1000).toFixed(2) + ' s';
  }
  function pad(n, w) { var s = String(n); while (s.length < w) s = '0' + s; return s; }
  function fmtClock(us) {
    var d = new Date(us / 1000);
    return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) + '.' + pad(d.getMilliseconds(), 3);
  }
  function fmtAgo(us) {
    var s = Math.max(0, Math.round(Date.now() - us / 1000) / 1000);
    if (s < 1) return 'just now';
    if (s < 60) return Math.round(s) + 's ago';
    if (s < 3600) return Math.round(s / 60) + 'm ago';
    return Math.round(s / 3600) + 'h ago';
  }
  function kindClass(kind) { return kind ? 'k-' + String(kind).toLowerCase().replace(/[^a-z]/g, '') : 'k-local'; }
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : many); }

  function getJson(path) {
    return fetch(base + path, { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error(res.status === 403 ? 'Forbidden (403): this page answers loopback or authorized requests only' : 'HTTP ' + res.status);
        return res.json();
      });
  }

  function banner(message, code) {
    var box = $('banner');
    box.replaceChildren();
    if (!message) { box.hidden = true; return; }
    add(box, document.createTextNode(message));
    if (code) add(box, document.createTextNode(' '), el('code', '', code));
    box.hidden = false;
  }

  // ---- header counters ---------------------------------------------------------------
  function chip(label, value, bad, title) {
    var node = el('span', 'chip' + (bad ? ' bad' : ''));
    add(node, el('span', '', label), el('b', '', value));
    if (title) node.title = title;
    return node;
  }
  function renderStats() {
    var box = $('stats');
    var s = state.stats;
    box.replaceChildren();
    if (!s) return;
    var t = s.tracer || {};
    var drops = t.spansDropped || {};
    var dropped = 0, why = [];
    Object.keys(drops).forEach(function (k) { dropped += drops[k] || 0; if (drops[k]) why.push(k + ': ' + drops[k]); });
    add(box,
      chip('started', t.spansStarted),
      chip('finished', t.spansFinished),
      chip('exported', t.spansExported),
      chip('queued', t.spansQueued),
      chip('dropped', dropped, dropped > 0, why.join(', ')),
      chip('export errors', t.exportErrors, t.exportErrors > 0),
      chip('malformed headers', t.malformedHeaders, t.malformedHeaders > 0),
      s.store ? chip('held', s.store.traces + ' / ' + s.store.maxTraces + ' traces', false, s.store.spans + ' spans held') : null);
    if (s.store && s.store.batches === 0 && t.spansFinished > 0) {
      banner('Spans are finishing but none reach this page. Add the page\u2019s exporter to', 'configure({ exporters: [page.exporter] })');
    } else {
      banner('');
    }
  }

  // ---- trace list ----------------------------------------------------------------------
  function renderTabs() {
    var lists = state.lists;
    Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (tab) {
      var view = tab.getAttribute('data-view');
      tab.setAttribute('aria-selected', String(view === state.view));
      var count = tab.querySelector('.count');
      var n = lists && lists[view] ? lists[view].length : 0;
      count.textContent = String(n);
      count.className = 'count' + (n > 0 ? ' some' : '');
    });
  }
  function renderList() {
    renderTabs();
    var box = $('traces');
    // Rebuilding the list every few seconds must not steal the keyboard focus.
    var focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.getAttribute('data-trace-id') : null;
    box.replaceChildren();
    var list = state.lists ? state.lists[state.view] || [] : [];
    if (list.length === 0) {
      var msg = state.view === 'failed' ? 'No failed traces. \u2713' : 'No traces yet. Make a request to your app.';
      add(box, el('li', 'empty', state.lists ? msg : 'Loading\u2026'));
      return;
    }
    var longest = 1;
    list.forEach(function (t) { if (t.duration > longest) longest = t.duration; });
    list.forEach(function (t) {
      var li = el('li');
      var item = el('button', 'trace-item' + (t.errorCount > 0 ? ' failed' : ''));
      item.type = 'button';
      item.setAttribute('data-trace-id', t.traceId);
      if (t.traceId === state.selected) item.setAttribute('aria-current', 'true');
      var name = el('span', 't-name', t.name || '(unnamed)');
      name.title = t.name;
      add(item, add(el('div', 'l1'), el('span', 'dot'), name, el('span', 't-dur', fmtDur(t.duration))));
      var meta = el('div', 'l2');
      add(meta, el('span', '', t.service), el('span', '', '\u00b7'), el('span', '', plural(t.spanCount, 'span', 'spans')));
      if (t.errorCount > 0) add(meta, el('span', '', '\u00b7'), el('span', 'err', plural(t.errorCount, 'error', 'errors')));
      var when = el('span', '', fmtAgo(t.timestamp));
      when.title = fmtClock(t.timestamp);
      add(meta, el('span', '', '\u00b7'), when);
      add(item, meta);
      var bar = el('i');
      bar.style.width = Math.max(1, (t.duration / longest) * 100) + '%';
      add(item, add(el('div', 'mini'), bar));
      item.addEventListener('click', function () { select(t.traceId); });
      add(box, add(li, item));
      if (t.traceId === focused) item.focus({ preventScroll: true });
    });
  }

  // ---- waterfall -----------------------------------------------------------------------
  function niceStep(totalUs) {
    var raw = totalUs / 5, mag = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * mag >= raw) return steps[i] * mag;
    return 10 * mag;
  }
  function treeOrder(spans) {
    var ids = {}, kids = {}, roots = [];
    spans.forEach(function (s) { ids[s.id] = true; });
    spans.forEach(function (s) {
      if (s.parentId && ids[s.parentId] && s.parentId !== s.id) (kids[s.parentId] = kids[s.parentId] || []).push(s);
      else roots.push(s);
    });
    var byStart = function (a, b) { return a.timestamp - b.timestamp; };
    var out = [], seen = {};
    function visit(s, depth) {
      if (seen[s.id]) return;
      seen[s.id] = true;
      out.push({ span: s, depth: depth });
      (kids[s.id] || []).sort(byStart).forEach(function (c) { visit(c, depth + 1); });
    }
    roots.sort(byStart).forEach(function (s) { visit(s, 0); });
    // A parent cycle (never made by tomograph) would hide spans: show them flat rather than lose them.
    spans.forEach(function (s) { if (!seen[s.id]) visit(s, 0); });
    return out;
  }

  function renderDetail() {
    var pane = $('detail');
    pane.replaceChildren();
    var tr = state.trace;
    if (!tr) {
      add(pane, el('div', 'empty', state.selected ? 'Loading\u2026' : 'Select a trace to see its waterfall.'));
      return;
    }
    if (tr.missing) {
      add(pane, el('div', 'empty', 'This trace is no longer held (only the most recent traces are kept).'));
      return;
    }
    var spans = tr.spans, sum = tr.summary || {};
    var start = Infinity, end = -Infinity;
    spans.forEach(function (s) { start = Math.min(start, s.timestamp); end = Math.max(end, s.timestamp + s.duration); });
    var total = Math.max(1, end - start);
    var pct = function (us) { return Math.min(100, Math.max(0, (us / total) * 100)); };

    var head = el('div', 'wf-head');
    var title = el('h2', 'wf-title', sum.name || (spans[0] && spans[0].name));
    if (sum.errorCount > 0) add(title, el('span', 'badge-err', plural(sum.errorCount, 'error', 'errors')));
    var meta = el('div', 'wf-meta');
    function metaItem(label, value, mono) {
      var node = el('span', '', label + ' ');
      add(node, el('b', mono ? 'mono' : '', value));
      return node;
    }
    // The trace id on a line of its own, large, selected whole by one click: it is what people
    // copy into a log search (the pino/winston trace_id field).
    var idItem = metaItem('trace id', tr.traceId, true);
    idItem.className = 'trace-id-item';
    idItem.lastChild.className = 'mono trace-id';
    idItem.lastChild.title = 'Click to select the whole id';
    add(meta, idItem, metaItem('duration', fmtDur(total)), metaItem('spans', String(spans.length)),
      metaItem('services', (sum.services || []).join(', ')), metaItem('started', fmtClock(start)));
    if (sum.droppedSpans > 0) add(meta, metaItem('dropped spans', String(sum.droppedSpans)));
    add(head, title, meta);
    if (sum.error) add(head, el('div', 'wf-error', sum.error));
    add(pane, head);

    var wf = el('div', 'wf');
    wf.setAttribute('role', 'tree');
    var step = niceStep(total);
    var axis = el('div', 'wf-axis');
    var axisTrack = el('div', 'track');
    var grid = el('div', 'grid'), gridTrack = el('div', 'track');
    for (var t = 0; t <= total + 1e-9; t += step) {
      var tick = el('span', 'tick', t === 0 ? '0' : fmtDur(t));
      tick.style.left = pct(t) + '%';
      add(axisTrack, tick);
      var line = el('i');
      line.style.left = pct(t) + '%';
      add(gridTrack, line);
    }
    add(axis, el('div', 'axis-label', 'Span'), axisTrack);
    add(wf, axis, add(grid, gridTrack));

    var rootService = sum.service;
    treeOrder(spans).forEach(function (entry) {
      var s = entry.span;
      var row = el('div', 'span-row' + (s.error !== undefined ? ' error' : ''));
      row.setAttribute('role', 'treeitem');
      row.setAttribute('aria-level', String(entry.depth + 1));
      row.setAttribute('data-span-id', s.id);
      if (s.parentId) row.setAttribute('data-parent-id', s.parentId);
      row.setAttribute('data-depth', String(entry.depth));
      row.setAttribute('aria-expanded', String(!!state.open[s.id]));
      row.tabIndex = 0;

      var label = el('div', 'span-label');
      label.style.paddingLeft = (12 + entry.depth * 18) + 'px';
      if (entry.depth > 0) add(label, el('span', 'twig'));
      add(label, el('span', 'kind ' + kindClass(s.kind), s.kind ? s.kind : 'LOCAL'));
      var name = el('span', 'span-name', s.name);
      name.title = s.name;
      add(label, name);
      if (s.service !== rootService) add(label, el('span', 'span-service', s.service));

      var track = el('div', 'track');
      var left = pct(s.timestamp - start), width = Math.max(0, pct(s.timestamp + s.duration - start) - left);
      var bar = el('div', 'bar ' + kindClass(s.kind) + (s.error !== undefined ? ' error' : ''));
      bar.style.left = left + '%';
      bar.style.width = width + '%';
      bar.title = s.name + ' \u2014 ' + fmtDur(s.duration);
      (s.notes || []).forEach(function (n) {
        var at = s.duration > 0 ? Math.min(100, Math.max(0, ((n.timestamp - s.timestamp) / s.duration) * 100)) : 0;
        if (n.duration > 0) {
          var seg = el('i', 'note-span');
          seg.style.left = at + '%';
          seg.style.width = Math.min(100 - at, (n.duration / s.duration) * 100) + '%';
          add(bar, seg);
        }
        var mark = el('i', 'note' + (n.value === 'error' ? ' err' : ''));
        mark.style.left = at + '%';
        mark.title = n.value + ' at +' + fmtDur(n.timestamp - start) + (n.duration !== undefined ? ' (' + fmtDur(n.duration) + ')' : '');
        add(bar, mark);
      });
      var dur = el('span', 'dur', fmtDur(s.duration));
      if (left + width <= 80) { dur.className += ' after'; dur.style.left = (left + width) + '%'; }
      else if (left >= 22) { dur.className += ' before'; dur.style.right = (100 - left) + '%'; }
      else { dur.className += ' inside'; dur.style.right = (100 - left - width) + '%'; }
      add(track, bar, dur);
      add(row, label, track);
      row.addEventListener('click', function () { toggle(s.id); });
      row.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggle(s.id); } });
      add(wf, row);
      if (state.open[s.id]) add(wf, spanDetail(s, start));
    });
    add(pane, wf);
    var legend = el('div', 'legend');
    [['k-server', 'server'], ['k-client', 'client'], ['k-producer', 'producer'], ['k-consumer', 'consumer'], ['k-local', 'local'], ['error', 'failed'], ['note', 'note']]
      .forEach(function (p) { add(legend, add(el('span'), el('i', p[0]), document.createTextNode(p[1]))); });
    add(pane, legend);
  }

  function kvList(pairs) {
    var dl = el('dl', 'kv');
    pairs.forEach(function (p) { add(dl, el('dt', '', p[0]), el('dd', p[2] || '', p[1])); });
    return dl;
  }
  function endpointText(e) {
    if (!e) return '';
    var where = (e.address || '') + (e.port !== undefined ? ':' + e.port : '');
    return (e.service ? e.service + (where ? ' @ ' : '') : '') + where;
  }
  function spanDetail(s, start) {
    var box = el('div', 'span-detail');
    box.setAttribute('data-detail-for', s.id);
    var info = [['name', s.name], ['service', s.service], ['kind', s.kind || 'local'],
      ['start', '+' + fmtDur(s.timestamp - start)], ['duration', fmtDur(s.duration)], ['span id', s.id]];
    if (s.parentId) info.push(['parent id', s.parentId]);
    if (s.host) info.push(['host', endpointText(s.host)]);
    if (s.remote) info.push(['remote', endpointText(s.remote)]);
    if (s.error !== undefined) info.push(['error', s.error, 'err']);
    add(box, el('h4', '', 'Span'), kvList(info));
    var keys = Object.keys(s.tags || {});
    if (keys.length) {
      add(box, el('h4', '', 'Tags'), kvList(keys.sort().map(function (k) { return [k, String(s.tags[k])]; })));
      box.lastChild.classList.add('tags');
    }
    if (s.notes && s.notes.length) {
      add(box, el('h4', '', 'Notes'), kvList(s.notes.map(function (n) {
        return ['+' + fmtDur(n.timestamp - start), n.value + (n.duration !== undefined ? '  (' + fmtDur(n.duration) + ')' : '')];
      })));
    }
    if (s.truncated) add(box, el('h4', '', 'Some notes, tags or long values were cut for display.'));
    return box;
  }

  function toggle(id) {
    state.open[id] = !state.open[id];
    renderDetail();
  }

  function select(traceId) {
    if (!TRACE_ID.test(traceId)) return;
    state.selected = traceId;
    state.open = {};
    state.trace = null;
    try { history.replaceState(null, '', '#trace=' + traceId); } catch (e) { /* sandboxed frames */ }
    renderList();
    renderDetail();
    loadTrace(traceId);
  }
  function loadTrace(traceId) {
    return getJson('traces.json?id=' + traceId).then(function (data) {
      if (state.selected !== traceId) return;
      state.trace = data;
      renderDetail();
    }, function (err) {
      if (state.selected !== traceId) return;
      if (/404/.test(err.message)) { state.trace = { missing: true }; renderDetail(); }
      else banner('Could not load the trace: ' + err.message);
    });
  }

  function refresh() {
    return Promise.all([getJson('traces.json'), getJson('stats.json')]).then(function (r) {
      var held = state.selected && state.lists ? findSummary(state.lists, state.selected) : null;
      state.lists = r[0];
      state.stats = r[1];
      renderStats();
      renderList();
      var now = state.selected ? findSummary(state.lists, state.selected) : null;
      if (state.selected && now && (!held || held.spanCount !== now.spanCount)) loadTrace(state.selected);
      document.body.setAttribute('data-loaded', 'true');
    }, function (err) { banner('Could not load traces: ' + err.message); });
  }
  function findSummary(lists, id) {
    var all = lists.recent || [];
    for (var i = 0; i < all.length; i++) if (all[i].traceId === id) return all[i];
    return null;
  }
  function schedule() {
    clearTimeout(state.timer);
    if (!state.live) return;
    state.timer = setTimeout(function () {
      (document.hidden ? Promise.resolve() : refresh()).then(schedule);
    }, POLL_MS);
  }

  Array.prototype.forEach.call(document.querySelectorAll('.tab'), function (tab) {
    tab.addEventListener('click', function () { state.view = tab.getAttribute('data-view'); renderList(); });
  });
  var live = $('live');
  live.addEventListener('click', function () {
    state.live = !state.live;
    live.className = 'live' + (state.live ? ' on' : '');
    live.setAttribute('aria-pressed', String(state.live));
    if (state.live) refresh().then(schedule); else clearTimeout(state.timer);
  });

  var fromHash = /^#trace=([0-9a-f]{32})$/.exec(location.hash);
  refresh().then(function () {
    if (fromHash) select(fromHash[1]);
    schedule();
  });
  renderList();
  renderDetail();
})();
`;
