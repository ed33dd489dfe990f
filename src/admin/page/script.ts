// The admin page's script: polls GET /stats once a second into five minutes of history per
// route, gRPC method and upstream, draws the charts as SVG paths, drives the breaker buttons, lists the
// CONNECT tunnels per upstream, and follows GET /tap?failed=true for the latest failed
// exchanges. Values from the network only ever become textContent or numbers in SVG attributes,
// never markup. URLs are relative, so the page also works behind a path prefix (kubectl proxy's /api/v1/namespaces/…/pods/…:15090/proxy/).
export const SCRIPT = String.raw`
'use strict';
(function () {
  var POINTS = 300;
  var history = {};
  var cards = {};
  var failures = [];
  var token = sessionStorage.getItem('sidelight.adminToken') || '';
  var waiting = [];
  var $ = function (id) { return document.getElementById(id); };
  var SVG = 'http://www.w3.org/2000/svg';

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function authHeaders() { return token ? { Authorization: 'Bearer ' + token } : {}; }
  function fmt(n, unit) { return n === null || n === undefined ? '–' : (Math.round(n * 10) / 10) + (unit || ''); }

  function askToken(message, retry) {
    if (retry) waiting.push(retry);
    $('token-message').textContent = message;
    $('token-panel').hidden = false;
  }
  $('token-form').addEventListener('submit', function (e) {
    e.preventDefault();
    token = $('token').value.trim();
    sessionStorage.setItem('sidelight.adminToken', token);
    $('token-panel').hidden = true;
    var again = waiting; waiting = [];
    again.forEach(function (f) { f(); });
  });

  function remember(key, window10s) {
    var h = history[key] || (history[key] = { rate: [], errors: [], p50: [], p99: [] });
    var w = window10s || {};
    h.rate.push(w.rate || 0);
    h.errors.push(w.requests ? (w.rate || 0) * (1 - (w.successRatio === null ? 1 : w.successRatio)) : 0);
    h.p50.push(w.p50Ms === null || w.p50Ms === undefined ? NaN : w.p50Ms);
    h.p99.push(w.p99Ms === null || w.p99Ms === undefined ? NaN : w.p99Ms);
    ['rate', 'errors', 'p50', 'p99'].forEach(function (k) { if (h[k].length > POINTS) h[k].shift(); });
    return h;
  }

  function chart(title, classes) {
    var box = el('div', 'chart');
    var label = el('div');
    classes.forEach(function (c, i) { label.appendChild(el('span', 'legend-' + c, (i ? ' · ' : '') + title[i])); });
    var top = el('span', 'muted');
    label.appendChild(top);
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + POINTS + ' 100');
    svg.setAttribute('preserveAspectRatio', 'none');
    var paths = classes.map(function (c) {
      var p = document.createElementNS(SVG, 'path');
      p.setAttribute('class', c);
      svg.appendChild(p);
      return p;
    });
    box.appendChild(label); box.appendChild(svg);
    return { box: box, top: top, svg: svg, paths: paths };
  }

  function draw(c, lines) {
    var max = 0;
    lines.forEach(function (values) { values.forEach(function (v) { if (v > max) max = v; }); });
    var top = max > 0 ? max * 1.1 : 1;
    // The x axis spans what has been seen, at least a minute, at most POINTS seconds.
    var span = Math.max(60, lines[0].length);
    c.svg.setAttribute('viewBox', '0 0 ' + span + ' 100');
    lines.forEach(function (values, i) {
      var d = '', pen = false, x0 = span - values.length;
      values.forEach(function (v, x) {
        if (!isFinite(v)) { pen = false; return; }
        var y = 100 - (v / top) * 100;
        d += (pen ? 'L' : 'M') + (x0 + x) + ' ' + y.toFixed(1);
        pen = true;
      });
      c.paths[i].setAttribute('d', d);
    });
    c.svg.setAttribute('data-points', String(lines[0].length));
    c.top.textContent = ' · max ' + fmt(max);
  }

  function card(container, key, title) {
    var c = cards[key];
    if (c) return c;
    var box = el('div', 'card');
    box.setAttribute('data-key', key);
    box.appendChild(el('h3', '', title));
    var figures = el('div', 'figures');
    box.appendChild(figures);
    var charts = el('div', 'charts');
    var rate = chart(['req/s'], ['rate']);
    var errors = chart(['errors/s'], ['errors']);
    var latency = chart(['p50', 'p99 ms'], ['p50', 'p99']);
    [rate, errors, latency].forEach(function (x) { charts.appendChild(x.box); });
    box.appendChild(charts);
    container.appendChild(box);
    return (cards[key] = { figures: figures, rate: rate, errors: errors, latency: latency });
  }

  function figures(target, row) {
    var w = row['10s'] || {}, m = row['1m'] || {};
    target.textContent = '';
    [['', fmt(w.rate, ' req/s')], [' · ok ', w.successRatio === null || w.successRatio === undefined ? '–' : fmt(w.successRatio * 100, '%')],
     [' · 1m p50 ', fmt(m.p50Ms, ' ms')], [' p95 ', fmt(m.p95Ms, ' ms')], [' p99 ', fmt(m.p99Ms, ' ms')],
     [' · z ', row.zscore === null || row.zscore === undefined ? '–' : fmt(row.zscore)]].forEach(function (pair) {
      target.appendChild(document.createTextNode(pair[0]));
      target.appendChild(el('b', '', pair[1]));
    });
    if (row.retries !== undefined || (m.retries)) target.appendChild(document.createTextNode(' · retries/1m ' + (m.retries || 0)));
    if (row.statuses) {
      var list = el('span', 'statuses');
      row.statuses.forEach(function (st) { list.appendChild(el('span', 'badge ' + (st.status === 'OK' ? 'ok' : 'warn'), (st.status || 'no status') + ' ' + st.calls)); });
      target.appendChild(document.createTextNode(' · '));
      target.appendChild(list);
    }
  }

  function renderRows(container, rows, keyOf, titleOf) {
    if (!rows.length) { container.textContent = ''; container.appendChild(el('div', 'empty', 'no traffic yet')); return; }
    var empty = container.querySelector('.empty');
    if (empty) empty.remove();
    rows.forEach(function (row) {
      var key = keyOf(row);
      var c = card(container, key, titleOf(row));
      var h = remember(key, row['10s']);
      figures(c.figures, row);
      draw(c.rate, [h.rate]);
      draw(c.errors, [h.errors]);
      draw(c.latency, [h.p50, h.p99]);
    });
  }

  function breakerAction(name, verb) {
    fetch('circuit-breakers/' + encodeURIComponent(name) + '/' + verb, { method: 'POST', headers: authHeaders() }).then(function (res) {
      if (res.status === 401) return askToken('Changing a breaker needs the admin token.', function () { breakerAction(name, verb); });
      if (!res.ok) return res.json().then(function (b) { $('breaker-message').textContent = b.message || ('HTTP ' + res.status); });
      $('breaker-message').textContent = verb + ' ' + name + ': done';
      poll(true);
    });
  }

  function renderBreakers(upstreams) {
    var body = $('breakers');
    body.textContent = '';
    if (!upstreams.length) { var r = el('tr'); var td = el('td', 'empty', 'no upstreams configured'); td.colSpan = 4; r.appendChild(td); body.appendChild(r); return; }
    upstreams.forEach(function (u) {
      var tr = el('tr');
      tr.setAttribute('data-upstream', u.upstream);
      tr.appendChild(el('td', '', u.upstream));
      var state = el('td');
      state.appendChild(el('span', 'badge ' + u.breaker, u.breaker.replace('_', '-')));
      tr.appendChild(state);
      tr.appendChild(el('td', '', u.inflight + ' / ' + u.maxInflight));
      var actions = el('td');
      ['open', 'close', 'reset'].forEach(function (verb) {
        var b = el('button', '', verb);
        b.setAttribute('data-action', verb);
        b.addEventListener('click', function () { breakerAction(u.upstream, verb); });
        actions.appendChild(b);
      });
      tr.appendChild(actions);
      body.appendChild(tr);
    });
  }

  function bytesPerSecond(v) {
    if (v === null || v === undefined) return '–';
    return v >= 1048576 ? fmt(v / 1048576, ' MiB/s') : v >= 1024 ? fmt(v / 1024, ' KiB/s') : fmt(v, ' B/s');
  }

  // Per upstream, over the last 10 s: tunnels open now, opens per second, the share established, bytes each way.
  function renderTunnels(tunnels) {
    var body = $('tunnels');
    body.textContent = '';
    if (!tunnels.length) { var r = el('tr'); var td = el('td', 'empty', 'no tunnels: egress.tunnels is off, or metrics are'); td.colSpan = 6; r.appendChild(td); body.appendChild(r); return; }
    tunnels.forEach(function (t) {
      var w = t['10s'] || {};
      var tr = el('tr');
      tr.setAttribute('data-tunnels', t.upstream);
      [t.upstream, String(t.open), fmt(w.rate, '/s'), w.establishedRatio === null || w.establishedRatio === undefined ? '–' : fmt(w.establishedRatio * 100, '%'),
       bytesPerSecond(w.sentBytesPerSecond), bytesPerSecond(w.receivedBytesPerSecond)].forEach(function (v) { tr.appendChild(el('td', '', v)); });
      body.appendChild(tr);
    });
  }

  function renderRateLimits(s) {
    var body = $('rate-limits');
    body.textContent = '';
    var rows = [];
    s.upstreams.forEach(function (u) {
      var r = u.rateLimit;
      if (r) rows.push(['upstream ' + u.upstream, r.rps, r.burst, r.tokens.toFixed(1), r.queued, r.waited, r.waited ? Math.round(r.waitedMs / r.waited) + 'ms' : '-', r.refused, '-']);
    });
    (s.rateLimits || []).forEach(function (l) {
      rows.push(['ingress ' + l.scope, l.rps, l.burst, l.tokens === undefined ? '-' : l.tokens.toFixed(1), '-', '-', '-', l.refused, l.key === 'none' ? '-' : l.keys + (l.evicted ? ' (+' + l.evicted + ' forgotten)' : '')]);
    });
    if (!rows.length) { var r = el('tr'); var td = el('td', 'empty', 'no rate limits configured'); td.colSpan = 9; r.appendChild(td); body.appendChild(r); return; }
    rows.forEach(function (cells) {
      var tr = el('tr');
      tr.setAttribute('data-limit', cells[0]);
      cells.forEach(function (c) { tr.appendChild(el('td', '', String(c))); });
      body.appendChild(tr);
    });
  }

  function render(s) {
    var state = $('state');
    state.textContent = '';
    state.appendChild(el('span', 'badge ' + (s.ready ? 'ok' : 'bad'), s.ready ? 'ready' : 'not ready'));
    state.appendChild(document.createTextNode(' '));
    state.appendChild(el('span', 'badge ' + (s.draining ? 'warn' : 'ok'), s.draining ? 'draining' : 'serving'));
    $('inflight').textContent = 'in flight: ' + s.listeners.map(function (l) { return l.listener + ' ' + l.inflight; }).join(' · ');
    $('updated').textContent = 'updated ' + new Date(s.time).toLocaleTimeString();
    $('metrics-off').hidden = s.metrics;
    renderRows($('routes'), s.routes, function (r) { return 'route:' + r.route; }, function (r) { return r.route || '(no matching route)'; });
    var grpc = s.grpcMethods || [];
    $('grpc-section').hidden = !grpc.length;
    if (grpc.length) renderRows($('grpc-methods'), grpc, function (g) { return 'grpc:' + g.method; }, function (g) { return g.method; });
    renderRows($('upstreams'), s.upstreams.filter(function (u) { return u['10s']; }), function (u) { return 'upstream:' + u.upstream; }, function (u) { return u.upstream; });
    renderBreakers(s.upstreams);
    renderTunnels(s.tunnels || []);
    renderRateLimits(s);
  }

  var polling = null;
  function poll(once) {
    fetch('stats', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (s) {
      $('offline').hidden = true;
      render(s);
    }).catch(function () { $('offline').hidden = false; }).then(function () {
      if (once === true) return;
      polling = setTimeout(poll, 1000);
    });
  }

  function addFailure(f) {
    if (f.kind !== 'exchange' && f.kind !== 'tunnel') return;
    failures.unshift(f);
    if (failures.length > 50) failures.pop();
    var body = $('failures');
    body.textContent = '';
    failures.forEach(function (x) {
      var tr = el('tr');
      // a tunnel has its host:port where an exchange has its path, and no retries
      [x.time.slice(11, 23), x.listener, x.method, x.path || x.target, String(x.status) + (x.grpcStatus ? ' ' + x.grpcStatus : ''), x.error || '', fmt(x.durationMs, ' ms'), x.upstream, String(x.retries || 0), x.requestId].forEach(function (v, i) {
        tr.appendChild(el('td', i === 3 ? 'path' : '', v));
      });
      body.appendChild(tr);
    });
  }

  function follow() {
    var status = $('tap-status');
    // recent=true: the stream starts with the latest failures sidelight kept, so the table is never empty on open.
    fetch('tap?failed=true&recent=true', { headers: authHeaders(), cache: 'no-store' }).then(function (res) {
      if (res.status === 401) { status.textContent = 'the tap needs the admin token'; return askToken('Reading the tap needs the admin token.', follow); }
      if (!res.ok) return res.json().then(function (b) { status.textContent = b.message || ('HTTP ' + res.status); setTimeout(follow, 5000); });
      status.textContent = 'following failed exchanges live';
      failures = [];
      var reader = res.body.getReader(), decoder = new TextDecoder(), buffered = '';
      function next() {
        return reader.read().then(function (r) {
          if (r.done) throw new Error('stream ended');
          buffered += decoder.decode(r.value, { stream: true });
          var nl;
          while ((nl = buffered.indexOf('\n')) !== -1) {
            var line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line) addFailure(JSON.parse(line));
          }
          return next();
        });
      }
      return next();
    }).catch(function () { status.textContent = 'tap disconnected; reconnecting'; setTimeout(follow, 2000); });
  }

  // The page came with the /stats document of the moment: drawn at once, polled from a second later.
  var initial = $('initial-stats');
  if (initial && initial.textContent) {
    render(JSON.parse(initial.textContent));
    polling = setTimeout(poll, 1000);
  } else {
    poll();
  }
  follow();
})();
`;
