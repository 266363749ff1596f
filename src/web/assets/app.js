/* rhai console: a single page over rhai-web's JSON API (docs/web.md).
 * Vanilla JS, no framework, no build step; runs under
 * Content-Security-Policy: default-src 'self' (no inline code or styles:
 * every element is made with h() and styled by class). Pages are routes of
 * the location hash (#/overview, #/task/ID ...). Elements the browser test
 * reads carry ids or data-test attributes; keep them stable. */
'use strict';

(function () {
  var me = null;            /* {role, user, csrf} once logged in */
  var timers = [];          /* the current page's refresh timers */
  var HISTORY_KEY = 'rhai.playground.history';
  var HISTORY_MAX = 50;

  /* ---- DOM helpers ----------------------------------------------------- */
  function $(id) { return document.getElementById(id); }

  /* h('tag#id.class', {attr: v, onclick: fn}, child...) -> element;
   * children are nodes, strings (text) or arrays of those. */
  function h(spec, attrs) {
    var parts = spec.split(/(?=[#.])/);
    var el = document.createElement(/^[#.]/.test(parts[0]) ? 'div' : parts.shift());
    var cls = [];
    parts.forEach(function (p) {
      if (p[0] === '#') el.id = p.slice(1); else cls.push(p.slice(1));
    });
    if (cls.length) el.className = cls.join(' ');
    var start = 1;
    if (attrs && typeof attrs === 'object' && !(attrs instanceof Node) && !Array.isArray(attrs)) {
      start = 2;
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
        else if (k === 'class') el.className += (el.className ? ' ' : '') + v;
        else if (k === 'value') el.value = v;
        else if (k === 'checked') el.checked = !!v;
        else el.setAttribute(k, v === true ? '' : String(v));
      });
    }
    for (var i = start; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); return; }
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }

  var SVGNS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    var el = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) el.textContent = text;
    return el;
  }

  /* ---- formatting -------------------------------------------------------- */
  function fmtTime(ms) {
    if (!ms || isNaN(+ms)) return '';
    var d = new Date(+ms);
    function p(n) { return (n < 10 ? '0' : '') + n; }
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }
  function fmtAge(ms) {
    if (ms === undefined || ms === null || ms === '' || isNaN(+ms)) return '';
    ms = +ms;
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return Math.round(ms / 60000) + ' min';
    if (ms < 86400000) return (ms / 3600000).toFixed(1) + ' h';
    return (ms / 86400000).toFixed(1) + ' d';
  }
  function fmtJSON(v) {
    if (v === undefined || v === null || v === '') return '';
    if (typeof v === 'string') {
      try { return JSON.stringify(JSON.parse(v), null, 2); } catch (e) { return v; }
    }
    return JSON.stringify(v, null, 2);
  }
  function str(v) { return v === undefined || v === null ? '' : String(v); }
  /* a list out of a reply that is either an array or {KEY: array} */
  function list(x, key) {
    if (Array.isArray(x)) return x;
    if (x && Array.isArray(x[key])) return x[key];
    if (x && typeof x === 'object') {
      for (var k in x) if (Array.isArray(x[k])) return x[k];
    }
    return [];
  }
  function statusBadge(st, test) {
    return h('span.badge.st-' + (str(st).replace(/[^\w-]/g, '') || 'none'),
      { 'data-test': test || 'status' }, str(st));
  }

  /* ---- API ------------------------------------------------------------------ */
  function ApiError(status, message, body) { this.status = status; this.message = message; this.body = body; }

  function api(method, path, body) {
    var opt = { method: method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      opt.headers['Content-Type'] = 'application/json';
      if (me && me.csrf) opt.headers['X-CSRF-Token'] = me.csrf;
      opt.body = JSON.stringify(body === undefined ? {} : body);
    }
    return fetch('/api' + path, opt).then(function (r) {
      return r.text().then(function (t) {
        var j = null;
        try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
        if (!r.ok) {
          var msg = (j && j.error) || t || r.statusText;
          if (r.status === 401 && path !== '/login') showLogin('session ended: log in again');
          throw new ApiError(r.status, msg, j);
        }
        return j;
      });
    });
  }

  function flash(text, kind) {
    var f = $('flash');
    f.textContent = text;
    f.className = kind || 'error';
    f.setAttribute('data-kind', kind || 'error');
    clearTimeout(flash.t);
    flash.t = setTimeout(function () { f.className = 'hidden'; }, kind === 'ok' ? 4000 : 12000);
  }
  function failed(what) {
    return function (e) {
      var st = e && e.status ? ' (' + e.status + ')' : '';
      flash(what + ' failed' + st + ': ' + (e && e.message ? e.message : e), 'error');
    };
  }
  /* an admin write: the API call, a flash with its outcome, then 'after' */
  function write(what, method, path, body, after) {
    return api(method, path, body).then(function (r) {
      flash(what + ': done', 'ok');
      if (after) after(r);
      return r;
    }, failed(what));
  }

  /* a button that needs the admin role: disabled for read-only users */
  function adminButton(label, attrs, onclick) {
    attrs = attrs || {};
    attrs.type = 'button';
    attrs.onclick = onclick;
    attrs['class'] = (attrs['class'] ? attrs['class'] + ' ' : '') + 'admin-only';
    var b = h('button', attrs, label);
    if (!isAdmin()) { b.disabled = true; b.title = 'needs the admin role'; }
    return b;
  }
  function isAdmin() { return me && me.role === 'admin'; }

  /* confirm(text, typed): a modal; 'typed' (optional) must be typed to enable OK */
  function confirmModal(text, typed) {
    return new Promise(function (resolve) {
      var m = $('modal'), inp = $('modal-input'), ok = $('modal-ok');
      $('modal-text').textContent = text;
      $('modal-hint').textContent = typed ? 'Type "' + typed + '" to confirm.' : '';
      inp.value = '';
      inp.className = typed ? '' : 'hidden';
      ok.disabled = !!typed;
      inp.oninput = function () { ok.disabled = inp.value !== typed; };
      function done(v) {
        m.className = 'hidden';
        ok.onclick = null; $('modal-cancel').onclick = null;
        resolve(v);
      }
      ok.onclick = function () { done(true); };
      $('modal-cancel').onclick = function () { done(false); };
      m.className = '';
      (typed ? inp : ok).focus();
    });
  }

  /* ---- tables ------------------------------------------------------------------ */
  /* table(id, columns, rows, rowAttrs): columns [{t: title, f: row -> cell}] */
  function table(id, cols, rows, rowAttrs) {
    var t = h('table#' + id,
      h('thead', h('tr', cols.map(function (c) { return h('th', c.t); }))),
      h('tbody', rows.map(function (r) {
        return h('tr', rowAttrs ? rowAttrs(r) : null, cols.map(function (c) {
          var v = c.f(r);
          return h('td', v instanceof Node || Array.isArray(v) ? v : str(v));
        }));
      })));
    if (!rows.length) {
      t.querySelector('tbody').appendChild(
        h('tr.empty', h('td', { colspan: cols.length }, 'nothing here')));
    }
    return t;
  }
  function section(title) {
    var rest = Array.prototype.slice.call(arguments, 1);
    return h('section.card', h('h2', title), rest);
  }
  function kv(pairs) {
    return h('dl.kv', pairs.filter(function (p) {
      return p[1] !== undefined && p[1] !== null && p[1] !== '';
    }).map(function (p) {
      return [h('dt', p[0]), h('dd', p[2] ? { id: p[2] } : null, p[1] instanceof Node ? p[1] : str(p[1]))];
    }));
  }
  function pre(id, text, cls) {
    return h('pre#' + id + (cls ? '.' + cls : ''), text);
  }

  /* ---- SVG charts ----------------------------------------------------------------- */
  /* lineChart(id, title, t[], [{name, values[], cls}], unit): time on x */
  function lineChart(id, title, t, series, unit) {
    var W = 560, H = 200, L = 44, R = 10, T = 12, B = 28;
    var svg = s('svg', { id: id, viewBox: '0 0 ' + W + ' ' + H, 'class': 'chart',
      role: 'img', 'aria-label': title, 'data-test': 'chart' });
    var max = 0;
    series.forEach(function (se) {
      (se.values || []).forEach(function (v) { if (+v > max) max = +v; });
    });
    max = max > 0 ? niceMax(max) : 1;
    var n = t.length, t0 = n ? t[0] : 0, t1 = n ? t[n - 1] : 1;
    if (t1 === t0) t1 = t0 + 1;
    function x(ti) { return L + (W - L - R) * (ti - t0) / (t1 - t0); }
    function y(v) { return T + (H - T - B) * (1 - (+v || 0) / max); }
    for (var i = 0; i <= 4; i++) {
      var v = max * i / 4, yy = y(v);
      svg.appendChild(s('line', { x1: L, x2: W - R, y1: yy, y2: yy, 'class': 'grid' }));
      svg.appendChild(s('text', { x: L - 4, y: yy + 4, 'class': 'ylabel' },
        String(+v.toFixed(2))));
    }
    if (n) {
      [0, Math.floor((n - 1) / 2), n - 1].forEach(function (k, j) {
        var d = new Date(t[k]);
        var lab = ('0' + d.getHours()).slice(-2) + ':' + ('0' + d.getMinutes()).slice(-2);
        svg.appendChild(s('text', { x: x(t[k]), y: H - 8,
          'class': 'xlabel' + (j === 0 ? ' start' : j === 2 ? ' end' : '') }, lab));
      });
    } else {
      svg.appendChild(s('text', { x: W / 2, y: H / 2, 'class': 'xlabel' }, 'no samples yet'));
    }
    series.forEach(function (se, k) {
      /* null (no task in the interval: no latency) is a gap, not a zero */
      var pts = [], sum = 0;
      (se.values || []).forEach(function (v, i) {
        if (v === null || v === undefined || +v < 0) return;
        sum += +v;
        pts.push(x(t[i]).toFixed(1) + ',' + y(v).toFixed(1));
      });
      svg.setAttribute('data-sum-' + se.name, String(sum));
      if (pts.length === 1) {
        svg.appendChild(s('circle', { cx: pts[0].split(',')[0], cy: pts[0].split(',')[1], r: 3, 'class': 'dot ' + se.cls }));
      } else if (pts.length) {
        svg.appendChild(s('polyline', { points: pts.join(' '), 'class': 'line ' + se.cls }));
      }
      svg.appendChild(s('rect', { x: L + 8 + k * 110, y: T, width: 10, height: 10, 'class': 'swatch ' + se.cls }));
      svg.appendChild(s('text', { x: L + 22 + k * 110, y: T + 9, 'class': 'legend' }, se.name));
    });
    return h('figure.chart-box', h('figcaption', title), svg);
  }
  function niceMax(v) {
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }

  /* ---- syntax highlighting (JS + the DSL's globals) -------------------------------- */
  var KEYWORDS = ('break case catch continue debugger default delete do else finally for function if in ' +
    'instanceof new return switch this throw try typeof var void while with let const true false null ' +
    'undefined').split(' ');
  var KW = {};
  KEYWORDS.forEach(function (k) { KW[k] = true; });
  var TOKEN = /(\/\/[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|("(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|`(?:[^`\\]|\\[\s\S])*`?)|(\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b|\b0x[0-9a-f]+\b)|([A-Za-z_$][\w$]*)/gi;

  /* highlight(code) -> [lines of DOM nodes] (one array per line) */
  function highlight(code) {
    var lines = [[]], last = 0, m;
    function push(text, cls) {
      var parts = text.split('\n');
      parts.forEach(function (p, i) {
        if (i > 0) lines.push([]);
        if (p) lines[lines.length - 1].push(cls ? h('span.' + cls, p) : document.createTextNode(p));
      });
    }
    TOKEN.lastIndex = 0;
    while ((m = TOKEN.exec(code)) !== null) {
      if (m.index > last) push(code.slice(last, m.index));
      var cls = m[1] ? 'tk-com' : m[2] ? 'tk-str' : m[3] ? 'tk-num' :
        KW[m[4]] ? 'tk-kw' : /^[A-Z]/.test(m[4]) ? 'tk-type' : null;
      push(m[0], cls);
      last = TOKEN.lastIndex;
      if (m[0] === '') TOKEN.lastIndex++;
    }
    if (last < code.length) push(code.slice(last));
    return lines;
  }
  /* a read-only highlighted listing with line numbers; errLine marked */
  function codeView(id, code, errLine) {
    var lines = highlight(code || '');
    return h('div.code#' + id, h('ol.listing', lines.map(function (l, i) {
      return h('li' + (i + 1 === errLine ? '.err-line' : ''), { 'data-line': i + 1 }, l.length ? l : '\u200b');
    })));
  }

  /* ---- routing ---------------------------------------------------------------------- */
  var routes = {
    overview: pageOverview, queues: pageQueues, tasks: pageTasks, task: pageTask,
    dead: pageDead, schedules: pageSchedules, contexts: pageContexts, context: pageContext,
    dsl: pageDsl, playground: pagePlayground
  };

  function route() {
    timers.forEach(clearInterval);
    timers = [];
    $('flash').className = 'hidden';
    if (!me) return;
    var parts = location.hash.replace(/^#\/?/, '').split('/');
    var name = parts[0] || 'overview';
    var arg = parts.slice(1).map(decodeURIComponent).join('/');
    var q = {};
    var qi = name.indexOf('?');
    if (qi >= 0) {
      name.slice(qi + 1).split('&').forEach(function (kvp) {
        var e = kvp.split('=');
        if (e[0]) q[decodeURIComponent(e[0])] = decodeURIComponent(e[1] || '');
      });
      name = name.slice(0, qi);
    }
    var fn = routes[name] || pageOverview;
    Array.prototype.forEach.call(document.querySelectorAll('#nav a'), function (a) {
      var target = a.getAttribute('href').slice(2);
      a.className = target === name || (name === 'task' && target === 'tasks') ||
        (name === 'context' && target === 'contexts') ? 'active' : '';
    });
    var page = clear($('page'));
    page.setAttribute('data-page', name);
    fn(page, arg, q);
  }
  function every(ms, fn) { timers.push(setInterval(fn, ms)); }
  function go(hash) { if (location.hash === hash) route(); else location.hash = hash; }

  /* ---- login --------------------------------------------------------------------------- */
  function showLogin(msg) {
    me = null;
    timers.forEach(clearInterval);
    timers = [];
    $('top').className = 'hidden';
    clear($('page'));
    $('login').className = '';
    $('login-error').textContent = msg || '';
    $('login-token').focus();
  }
  function loggedIn(who) {
    me = who;
    $('login').className = 'hidden';
    $('top').className = '';
    $('me-user').textContent = who.user || '';
    $('me-role').textContent = who.role;
    $('me-role').className = 'badge role-' + who.role;
    document.body.setAttribute('data-role', who.role);
    route();
  }
  function initLogin() {
    $('login-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      $('login-error').textContent = '';
      api('POST', '/login', { token: $('login-token').value }).then(function (r) {
        $('login-token').value = '';
        return api('GET', '/me').then(function (m) {
          loggedIn({ role: m.role || r.role, user: m.user, csrf: r.csrf || m.csrf });
        }, function () { loggedIn(r); });
      }, function (e) {
        $('login-error').textContent = e.status === 401 ? 'wrong token' :
          e.status === 429 ? 'too many attempts: wait a little' : 'login failed: ' + e.message;
      });
    });
    $('logout').addEventListener('click', function () {
      api('POST', '/logout', {}).then(null, function () {}).then(function () {
        document.body.removeAttribute('data-role');
        showLogin('logged out');
      });
    });
  }

  /* ---- overview ------------------------------------------------------------------------ */
  var RANGES = [['5m', 300000], ['15m', 900000], ['1h', 3600000]];
  function pageOverview(page) {
    var body = h('div#overview');
    var range = h('select#chart-range', { onchange: function () {
      try { localStorage.setItem('rhai.chart.range', range.value); } catch (e) { /* private mode */ }
      load();
    } }, RANGES.map(function (r) { return h('option', { value: r[1] }, 'last ' + r[0]); }));
    try { range.value = localStorage.getItem('rhai.chart.range') || '900000'; } catch (e) { range.value = '900000'; }
    if (!range.value) range.value = '900000';
    page.appendChild(h('h1', 'Overview'));
    page.appendChild(body);
    function load() {
      api('GET', '/overview').then(function (o) {
        var raw = o.series || {};
        var end = o.now || Date.now(), from = end - (+range.value || 900000);
        var keep = (raw.t || []).map(function (ti, i) { return ti >= from ? i : -1; })
          .filter(function (i) { return i >= 0; });
        function cut(a) { return keep.map(function (i) { return (a || [])[i]; }); }
        var se = { done: cut(raw.done), failed: cut(raw.failed), p50_ms: cut(raw.p50_ms), p99_ms: cut(raw.p99_ms) };
        var t = cut(raw.t);
        var step = raw.step_ms ? ' per ' + raw.step_ms / 1000 + ' s' : ' per interval';
        clear(body);
        body.appendChild(section('Alerts', h('ul#alerts', (o.alerts || []).length ?
          o.alerts.map(function (a) {
            return h('li.alert.alert-' + str(a.kind), { 'data-test': 'alert', 'data-kind': a.kind }, a.text || a.kind);
          }) : h('li.ok', { 'data-test': 'no-alerts' }, 'no alerts'))));
        body.appendChild(h('div.row', h('label.muted', 'Charts: ', range)));
        body.appendChild(h('div.charts',
          lineChart('chart-throughput', 'Tasks finished' + step, t, [
            { name: 'done', values: se.done, cls: 's-done' },
            { name: 'failed', values: se.failed, cls: 's-failed' }]),
          lineChart('chart-latency', 'Run time (ms)', t, [
            { name: 'p50', values: se.p50_ms, cls: 's-p50' },
            { name: 'p99', values: se.p99_ms, cls: 's-p99' }], 'ms')));
        body.appendChild(section('Instances', instancesTable(o.instances || [])));
        body.appendChild(section('Queues', queuesTable('overview-queues', o.queues || [], false)));
      }, failed('loading the overview'));
    }
    load();
    every(5000, load);
  }
  function instancesTable(rows) {
    return table('overview-instances', [
      { t: 'Worker', f: function (r) { return r.worker; } },
      { t: 'Instance', f: function (r) { return r.instance; } },
      { t: 'Host', f: function (r) { return r.host; } },
      { t: 'State', f: function (r) { return statusBadge(r.state); } },
      { t: 'Busy', f: function (r) { return str(r.busy) + ' / ' + str(r.executors); } },
      { t: 'Last beat', f: function (r) { return r.last_beat_ms === null || r.last_beat_ms === undefined ? '' : fmtAge(r.last_beat_ms) + ' ago'; } },
      { t: 'Done / failed', f: function (r) { return r.done === undefined ? '' : str(r.done) + ' / ' + str(r.failed); } },
      { t: 'Store', f: function (r) { return [statusBadge(r.store, 'store'), r.backend ? ' ' + r.backend : '']; } }
    ], rows, function (r) {
      return { 'data-test': 'instance-row', 'data-worker': r.worker, 'data-instance': r.instance };
    });
  }
  function queuesTable(id, rows, actions, reload) {
    var cols = [
      { t: 'Worker', f: function (r) { return h('a', { href: '#/tasks?worker=' + encodeURIComponent(r.worker) }, r.worker); } },
      { t: 'Queued', f: function (r) { return r.queued; } },
      { t: 'Oldest', f: function (r) { return fmtAge(r.oldest_age_ms); } },
      { t: 'Running', f: function (r) { return r.running; } },
      { t: 'Scheduled', f: function (r) { return r.scheduled; } },
      { t: 'Failed 1h', f: function (r) { return r.failed_1h; } },
      { t: 'Instances', f: function (r) {
        return r.live_instances === undefined ? '' : str(r.live_instances) +
          (r.draining_instances ? ' (+' + r.draining_instances + ' draining)' : '') +
          (r.dead_instances ? ' (' + r.dead_instances + ' dead)' : '');
      } },
      { t: 'Dead', f: function (r) { return r.dead ? h('a', { href: '#/dead?worker=' + encodeURIComponent(r.worker) }, str(r.dead)) : str(r.dead); } },
      { t: 'State', f: function (r) { return h('span.badge' + (r.paused ? '.st-paused' : '.st-active'), { 'data-test': 'queue-state' }, r.paused ? 'paused' : 'active'); } }
    ];
    if (actions) {
      cols.push({ t: '', f: function (r) {
        var w = encodeURIComponent(r.worker);
        return h('span.actions',
          r.paused ? adminButton('Resume', { 'data-test': 'queue-resume' }, function () {
            write('resume ' + r.worker, 'POST', '/queues/' + w + '/resume', {}, reload);
          }) : adminButton('Pause', { 'data-test': 'queue-pause' }, function () {
            write('pause ' + r.worker, 'POST', '/queues/' + w + '/pause', {}, reload);
          }),
          adminButton('Purge', { 'data-test': 'queue-purge', 'class': 'danger' }, function () {
            confirmModal('Purge the queue of ' + r.worker + '? Its ' + str(r.queued) +
              ' queued tasks are dropped.', r.worker).then(function (ok) {
              if (ok) write('purge ' + r.worker, 'POST', '/queues/' + w + '/purge', { confirm: r.worker }, reload);
            });
          }));
      } });
    }
    return table(id, cols, rows, function (r) {
      return { 'data-test': 'queue-row', 'data-worker': r.worker, 'data-paused': r.paused ? '1' : '0' };
    });
  }

  /* ---- queues --------------------------------------------------------------------------- */
  function pageQueues(page) {
    var body = h('div');
    page.appendChild(h('h1', 'Queues'));
    page.appendChild(body);
    function load() {
      api('GET', '/queues').then(function (qs) {
        clear(body).appendChild(queuesTable('queues-table', list(qs, 'queues'), true, load));
      }, failed('loading the queues'));
    }
    load();
    every(5000, load);
  }

  /* ---- tasks ---------------------------------------------------------------------------- */
  var STATUSES = ['', 'queued', 'scheduled', 'claimed', 'running', 'done', 'error', 'timeout', 'cancelled'];
  var KINDS = ['', 'script', 'timeout', 'memory', 'denied', 'crashed', 'invalid', 'cancelled', 'internal'];
  function select(id, values, cur) {
    return h('select#' + id, values.map(function (v) {
      return h('option', { value: v, selected: v === cur }, v || (id === 'f-status' ? 'finished' : 'any'));
    }));
  }
  function toLocalInput(ms) {
    if (!ms) return '';
    var d = new Date(+ms - new Date(+ms).getTimezoneOffset() * 60000);
    return d.toISOString().slice(0, 16);
  }
  function fromLocalInput(v) { return v ? String(new Date(v).getTime()) : ''; }

  function pageTasks(page, arg, q) {
    var f = {
      worker: h('input#f-worker', { value: q.worker || '', placeholder: 'worker' }),
      status: select('f-status', STATUSES, q.status || ''),
      error_kind: select('f-error-kind', KINDS, q.error_kind || ''),
      caller: h('input#f-caller', { value: q.caller || '', placeholder: 'caller' }),
      context: h('input#f-context', { value: q.context || '', placeholder: 'context' }),
      since: h('input#f-since', { type: 'datetime-local', value: toLocalInput(q.since) }),
      until: h('input#f-until', { type: 'datetime-local', value: toLocalInput(q.until) }),
      limit: h('input#f-limit', { type: 'number', min: 1, max: 1000, value: q.limit || '100' })
    };
    function params() {
      var p = {};
      Object.keys(f).forEach(function (k) {
        var v = k === 'since' || k === 'until' ? fromLocalInput(f[k].value) : f[k].value.trim();
        if (v) p[k] = v;
      });
      return p;
    }
    function qs(p) {
      return Object.keys(p).map(function (k) { return encodeURIComponent(k) + '=' + encodeURIComponent(p[k]); }).join('&');
    }
    var form = h('form#tasks-filter.filters', {
      onsubmit: function (ev) { ev.preventDefault(); location.hash = '#/tasks?' + qs(params()); }
    },
    h('label', 'Worker ', f.worker), h('label', 'Status ', f.status), h('label', 'Error kind ', f.error_kind),
    h('label', 'Caller ', f.caller), h('label', 'Context ', f.context), h('label', 'Since ', f.since),
    h('label', 'Until ', f.until), h('label', 'Limit ', f.limit),
    h('button#tasks-apply', { type: 'submit' }, 'Filter'),
    h('button#tasks-refresh', { type: 'button', onclick: load }, 'Refresh'));
    var body = h('div#tasks-body');
    page.appendChild(h('h1', 'Tasks'));
    page.appendChild(form);
    page.appendChild(body);
    function load() {
      api('GET', '/tasks?' + qs(params())).then(function (ts) {
        clear(body).appendChild(table('tasks-table', [
          { t: 'ID', f: function (r) { return h('a', { href: '#/task/' + encodeURIComponent(r.id), 'data-test': 'task-link' }, r.id); } },
          { t: 'Worker', f: function (r) { return r.worker_id; } },
          { t: 'Status', f: function (r) { return statusBadge(r.status); } },
          { t: 'Error kind', f: function (r) { return r.error_kind; } },
          { t: 'Caller', f: function (r) { return r.caller_id; } },
          { t: 'Context', f: function (r) { return r.context_id; } },
          { t: 'Created', f: function (r) { return fmtTime(r.created_at); } },
          { t: 'Took', f: function (r) { return r.finished_at && r.started_at ? fmtAge(r.finished_at - r.started_at) : ''; } },
          { t: 'Attempts', f: function (r) { return r.attempts; } }
        ], list(ts, 'tasks'), function (r) {
          return { 'data-test': 'task-row', 'data-id': r.id, 'data-status': r.status };
        }));
      }, failed('loading the tasks'));
    }
    load();
  }

  /* ---- a task ---------------------------------------------------------------------------- */
  function pageTask(page, id) {
    var head = h('h1', 'Task ', h('code#task-id', id));
    var body = h('div#task-body');
    page.appendChild(head);
    page.appendChild(body);
    /* not final yet: the page refreshes (claimed: taken, its start not yet written) */
    var live = { queued: 1, scheduled: 1, claimed: 1, running: 1 };
    function load() {
      api('GET', '/tasks/' + encodeURIComponent(id)).then(function (t) {
        render(t);
        if (!live[t.status]) { timers.forEach(clearInterval); timers = []; }
      }, function (e) {
        clear(body).appendChild(h('p.error#task-missing', e.status === 404 ? 'no such task (expired or never existed)' : e.message));
        /* gone for good; anything else (Redis restarting) may pass: asked again */
        if (e.status === 404) { timers.forEach(clearInterval); timers = []; }
      });
    }
    function render(t) {
      var errs = t.errors;
      if (typeof errs === 'string') { try { errs = JSON.parse(errs); } catch (e) { errs = []; } }
      var line = t.line || lineOf(t.error);
      var children = t.children;
      if (typeof children === 'string') { try { children = JSON.parse(children); } catch (e) { children = []; } }
      clear(body);
      body.appendChild(h('div.row.actions',
        statusBadge(t.status),
        adminButton('Cancel', { id: 'task-cancel', disabled: !live[t.status] }, function () {
          confirmModal('Cancel task ' + id + '?').then(function (ok) {
            if (ok) write('cancel', 'POST', '/tasks/' + encodeURIComponent(id) + '/cancel', {}, function () { load(); if (!timers.length) every(1000, load); });
          });
        }),
        adminButton('Retry', { id: 'task-retry', disabled: !!live[t.status] || t.status === 'done' }, function () {
          write('retry', 'POST', '/tasks/' + encodeURIComponent(id) + '/retry', {}, function (r) {
            if (r && r.id && r.id !== id) { go('#/task/' + encodeURIComponent(r.id)); return; }
            load();
            if (!timers.length) every(1000, load);
          });
        })));
      if (!live[t.status]) body.querySelector('#task-cancel').disabled = true;
      if (live[t.status] || t.status === 'done') body.querySelector('#task-retry').disabled = true;
      body.appendChild(section('Summary', kv([
        ['Status', t.status, 'task-status'],
        ['Worker', t.worker_id, 'task-worker'],
        ['Caller', t.caller_id],
        ['Context', t.context_id],
        ['Error kind', t.error_kind, 'task-error-kind'],
        ['Attempts', t.attempts],
        ['Created', fmtTime(t.created_at)],
        ['Started', fmtTime(t.started_at) + (t.started_at && t.created_at ? '  (waited ' + fmtAge(t.started_at - t.created_at) + ')' : '')],
        ['Finished', fmtTime(t.finished_at) + (t.finished_at && t.started_at ? '  (ran ' + fmtAge(t.finished_at - t.started_at) + ')' : '')],
        ['Timeout', t.timeout_ms ? fmtAge(t.timeout_ms) : ''],
        ['Dead since', fmtTime(t.dead_at), 'task-dead-at'],
        ['Trace', t.trace_id],
        ['Retry of', t.retry_of ? h('a', { href: '#/task/' + encodeURIComponent(t.retry_of), id: 'task-retry-of' }, t.retry_of) : ''],
        ['Schedule', t.schedule ? h('a', { href: '#/schedules' }, t.schedule) : ''],
        ['Parent', t.parent_id ? h('a', { href: '#/task/' + encodeURIComponent(t.parent_id), id: 'task-parent' }, t.parent_id) : ''],
        ['Children', Array.isArray(children) && children.length ? h('span#task-children', children.map(function (c) {
          var cid = typeof c === 'string' ? c : c.id;
          return h('a.chip', { href: '#/task/' + encodeURIComponent(cid) }, cid);
        })) : '']
      ])));
      body.appendChild(section('Script', codeView('task-script', t.script || '', line)));
      body.appendChild(section('Args', pre('task-args', fmtJSON(t.args))));
      if (t.output !== null && t.output !== undefined) body.appendChild(section('Output', pre('task-output', fmtJSON(t.output))));
      if (t.logs) body.appendChild(section('Logs', pre('task-logs', str(t.logs))));
      if (t.error) body.appendChild(section('Error', pre('task-error', str(t.error) + (line ? '\n(line ' + line + ')' : ''), 'error')));
      if (Array.isArray(errs) && errs.length) {
        body.appendChild(section('Failed attempts', table('task-errors', [
          { t: 'Attempt', f: function (r) { return r.attempt; } },
          { t: 'Kind', f: function (r) { return r.error_kind; } },
          { t: 'Error', f: function (r) { return r.error; } },
          { t: 'At', f: function (r) { return fmtTime(r.at || r.finished_at); } }
        ], errs)));
      }
      var known = { id: 1, script: 1, args: 1, output: 1, logs: 1, error: 1, errors: 1, children: 1, line: 1 };
      var other = Object.keys(t).filter(function (k) { return !known[k]; }).sort();
      body.appendChild(h('details.card', h('summary', 'All fields'),
        kv(other.map(function (k) { return [k, typeof t[k] === 'object' ? JSON.stringify(t[k]) : t[k]]; }))));
    }
    load();
    every(1000, load);
  }
  function lineOf(err) {
    var m = /\(line (\d+)\)|line (\d+)|:(\d+)(?::\d+)?\)?$/.exec(str(err));
    return m ? +(m[1] || m[2] || m[3]) : 0;
  }

  /* ---- dead set ---------------------------------------------------------------------------- */
  function pageDead(page, arg, q) {
    var worker = h('input#dead-worker', { value: q.worker || '', placeholder: 'worker (all)' });
    var body = h('div#dead-body');
    var rows = [];
    page.appendChild(h('h1', 'Dead tasks'));
    page.appendChild(h('form.filters', { onsubmit: function (ev) {
      ev.preventDefault();
      location.hash = '#/dead' + (worker.value.trim() ? '?worker=' + encodeURIComponent(worker.value.trim()) : '');
    } }, h('label', 'Worker ', worker), h('button', { type: 'submit' }, 'Filter')));
    function selected() {
      return Array.prototype.map.call(body.querySelectorAll('input.pick:checked'), function (c) { return c.value; });
    }
    function bulk(action) {
      var ids = selected();
      if (!ids.length) { flash('select dead tasks first', 'error'); return; }
      /* one request per worker: the API takes {worker, ids} */
      var byWorker = {};
      rows.forEach(function (r) { if (ids.indexOf(r.id) >= 0) (byWorker[r.worker_id] = byWorker[r.worker_id] || []).push(r.id); });
      var go1 = function () {
        return Promise.all(Object.keys(byWorker).map(function (w) {
          return api('POST', '/dead/' + action, { worker: w, ids: byWorker[w] });
        })).then(function () { flash(action + ' of ' + ids.length + ' dead task(s): done', 'ok'); load(); },
          failed(action));
      };
      if (action === 'delete') {
        confirmModal('Delete ' + ids.length + ' dead task(s)? They cannot be retried afterwards.').then(function (ok) { if (ok) go1(); });
      } else go1();
    }
    function all(action) {
      var w = worker.value.trim();
      confirmModal((action === 'retry' ? 'Retry' : 'Delete') + ' every dead task of ' + w + '?', w).then(function (ok) {
        if (ok) write(action + ' all of ' + w, 'POST', '/dead/' + action, { worker: w, all: true }, load);
      });
    }
    page.appendChild(h('div.row.actions',
      adminButton('Retry selected', { id: 'dead-retry-selected' }, function () { bulk('retry'); }),
      adminButton('Delete selected', { id: 'dead-delete-selected', 'class': 'danger' }, function () { bulk('delete'); }),
      q.worker ? adminButton('Retry all of ' + q.worker, { id: 'dead-retry-all' }, function () { all('retry'); }) : null,
      q.worker ? adminButton('Delete all of ' + q.worker, { id: 'dead-delete-all', 'class': 'danger' }, function () { all('delete'); }) : null));
    page.appendChild(body);
    function load() {
      api('GET', '/dead' + (q.worker ? '?worker=' + encodeURIComponent(q.worker) : '')).then(function (d) {
        rows = list(d, 'dead');
        var pickAll = h('input#dead-pick-all', { type: 'checkbox', title: 'select all', onchange: function () {
          Array.prototype.forEach.call(body.querySelectorAll('input.pick'), function (c) { c.checked = pickAll.checked; });
        } });
        var t = table('dead-table', [
          { t: '', f: function (r) { return h('input.pick', { type: 'checkbox', value: r.id, 'data-test': 'dead-pick' }); } },
          { t: 'ID', f: function (r) { return h('a', { href: '#/task/' + encodeURIComponent(r.id) }, r.id); } },
          { t: 'Worker', f: function (r) { return r.worker_id; } },
          { t: 'Died', f: function (r) { return fmtTime(r.dead_at); } },
          { t: 'Kind', f: function (r) { return r.error_kind; } },
          { t: 'Attempts', f: function (r) { return r.attempts; } },
          { t: 'Error', f: function (r) { return r.error; } }
        ], rows, function (r) { return { 'data-test': 'dead-row', 'data-id': r.id }; });
        t.querySelector('thead th').appendChild(pickAll);
        clear(body).appendChild(t);
      }, failed('loading the dead set'));
    }
    load();
  }

  /* the next tick as rhaictl cron list words it */
  function nextTick(r) {
    if (r.paused) return 'paused';
    if (r.next === null || r.next === undefined) return '-';
    if (+r.next < 0) return '(computing)';
    return fmtTime(r.next);
  }

  /* ---- schedules --------------------------------------------------------------------------- */
  function pageSchedules(page, arg, q) {
    var body = h('div#schedules-body');
    page.appendChild(h('h1', 'Schedules'));
    page.appendChild(body);
    function load() {
      api('GET', '/schedules' + (q.worker ? '?worker=' + encodeURIComponent(q.worker) : '')).then(function (d) {
        var rows = list(d, 'schedules');
        clear(body).appendChild(table('schedules-table', [
          { t: 'Name', f: function (r) { return r.name; } },
          { t: 'Worker', f: function (r) { return r.worker || r.worker_id; } },
          { t: 'Cron', f: function (r) { return h('code', str(r.cron || r.every || r.spec)); } },
          { t: 'TZ', f: function (r) { return r.tz; } },
          { t: 'Context', f: function (r) { return r.context; } },
          { t: 'Caller', f: function (r) { return r.caller; } },
          { t: 'Next', f: function (r) { return h('span', { 'data-test': 'schedule-next' }, nextTick(r)); } },
          { t: 'State', f: function (r) { return h('span.badge' + (r.paused ? '.st-paused' : '.st-active'), { 'data-test': 'schedule-state' }, r.paused ? 'paused' : 'active'); } },
          { t: '', f: function (r) {
            var p = '/schedules/' + encodeURIComponent(r.worker || r.worker_id) + '/' + encodeURIComponent(r.name);
            return h('span.actions',
              r.paused ? adminButton('Resume', { 'data-test': 'schedule-resume' }, function () { write('resume ' + r.name, 'POST', p + '/resume', {}, load); })
                : adminButton('Pause', { 'data-test': 'schedule-pause' }, function () { write('pause ' + r.name, 'POST', p + '/pause', {}, load); }),
              adminButton('Run now', { 'data-test': 'schedule-run' }, function () {
                write('run ' + r.name, 'POST', p + '/run', {}, function (res) {
                  if (res && res.id) go('#/task/' + encodeURIComponent(res.id)); else load();
                });
              }));
          } }
        ], rows, function (r) { return { 'data-test': 'schedule-row', 'data-name': r.name }; }));
      }, failed('loading the schedules'));
    }
    load();
    every(5000, load);
  }

  /* ---- contexts ------------------------------------------------------------------------------ */
  function pageContexts(page) {
    var body = h('div#contexts-body');
    page.appendChild(h('h1', 'Contexts'));
    page.appendChild(body);
    api('GET', '/contexts').then(function (d) {
      body.appendChild(table('contexts-table', [
        { t: 'Context', f: function (r) { return h('a', { href: '#/context/' + encodeURIComponent(r.id) }, r.id); } },
        { t: 'Owners', f: function (r) { return (r.owners || []).join(', '); } }
      ], list(d, 'contexts'), function (r) { return { 'data-test': 'context-row', 'data-id': r.id }; }));
    }, failed('loading the contexts'));
  }
  function opsText(ops) { return Array.isArray(ops) ? ops.join(',') : str(ops); }
  function pageContext(page, id, q) {
    var cpath = '/contexts/' + encodeURIComponent(id);
    page.appendChild(h('h1', 'Context ', h('code#context-id', id)));
    var info = h('div#context-info'), audit = h('div#audit-body');
    page.appendChild(info);
    function load() {
      api('GET', cpath).then(function (c) {
        clear(info);
        info.appendChild(section('Owners', h('ul#context-owners', (c.owners || []).map(function (o) { return h('li', o); }))));
        var grants = c.grants || [];
        info.appendChild(section('Grants', table('grants-table', [
          { t: 'Caller', f: function (r) { return r.caller; } },
          { t: 'Model', f: function (r) { return r.model; } },
          { t: 'Ops', f: function (r) { return opsText(r.ops); } },
          { t: 'Object', f: function (r) { return r.object_id; } },
          { t: 'Expires', f: function (r) { return fmtTime(r.expires_at); } },
          { t: '', f: function (r) {
            return adminButton('Revoke', { 'data-test': 'grant-revoke', 'class': 'danger' }, function () {
              confirmModal('Revoke ' + opsText(r.ops) + ' on ' + r.model + ' from ' + r.caller + '?').then(function (ok) {
                var b = { caller: r.caller, model: r.model, ops: r.ops };
                if (r.object_id) b.object_id = r.object_id;
                if (ok) write('revoke', 'POST', cpath + '/revoke', b, load);
              });
            });
          } }
        ], grants, function (r) { return { 'data-test': 'grant-row', 'data-caller': r.caller, 'data-model': r.model }; }),
        grantForm()));
      }, failed('loading context ' + id));
    }
    function grantForm() {
      var caller = h('input#grant-caller', { placeholder: 'caller' });
      var model = h('input#grant-model', { placeholder: 'model (e.g. account, or *)' });
      var ops = h('input#grant-ops', { placeholder: 'ops: read,create,update,delete' });
      var submit = adminButton('Grant', { id: 'grant-submit' }, null);
      submit.type = 'submit';
      return h('form#grant-form.filters', { onsubmit: function (ev) {
        ev.preventDefault();
        var b = { caller: caller.value.trim(), model: model.value.trim(),
          ops: ops.value.split(',').map(function (x) { return x.trim(); }).filter(Boolean) };
        write('grant', 'POST', cpath + '/grant', b, load);
      } }, h('label', 'Caller ', caller), h('label', 'Model ', model), h('label', 'Ops ', ops), submit);
    }
    var af = {
      caller: h('input#audit-caller', { value: q.caller || '', placeholder: 'caller' }),
      model: h('input#audit-model', { value: q.model || '', placeholder: 'model' }),
      since: h('input#audit-since', { type: 'datetime-local', value: toLocalInput(q.since) }),
      limit: h('input#audit-limit', { type: 'number', min: 1, max: 1000, value: q.limit || '100' })
    };
    function loadAudit() {
      var p = [];
      Object.keys(af).forEach(function (k) {
        var v = k === 'since' ? fromLocalInput(af[k].value) : af[k].value.trim();
        if (v) p.push(k + '=' + encodeURIComponent(v));
      });
      api('GET', cpath + '/audit?' + p.join('&')).then(function (d) {
        clear(audit).appendChild(table('audit-table', [
          { t: 'At', f: function (r) { return fmtTime(r.at); } },
          { t: 'Caller', f: function (r) { return r.caller; } },
          { t: 'Op', f: function (r) { return r.op; } },
          { t: 'Model', f: function (r) { return r.model; } },
          { t: 'Object', f: function (r) { return r.object_id; } },
          { t: 'Decision', f: function (r) { return h('span.badge.d-' + str(r.decision), str(r.decision)); } },
          { t: 'Reason', f: function (r) { return r.reason; } },
          { t: 'Task', f: function (r) { return r.task_id ? h('a', { href: '#/task/' + encodeURIComponent(r.task_id) }, r.task_id) : ''; } }
        ], list(d, 'audit'), function (r) { return { 'data-test': 'audit-row', 'data-decision': r.decision }; }));
      }, failed('loading the audit log'));
    }
    page.appendChild(section('Audit log',
      h('form#audit-filter.filters', { onsubmit: function (ev) { ev.preventDefault(); loadAudit(); } },
        h('label', 'Caller ', af.caller), h('label', 'Model ', af.model), h('label', 'Since ', af.since),
        h('label', 'Limit ', af.limit), h('button#audit-apply', { type: 'submit' }, 'Filter')),
      audit));
    load();
    loadAudit();
  }

  /* ---- DSL reference ---------------------------------------------------------------------------- */
  function pageDsl(page) {
    var filter = h('input#dsl-filter', { placeholder: 'filter models and fields', type: 'search' });
    var body = h('div#dsl-body');
    var models = [];
    page.appendChild(h('h1', 'DSL reference'));
    page.appendChild(h('p.muted', 'Every domain, its models (the JS global each script sees), their fields and operations, ' +
      'from the schemas rhaid runs with. Guarded fields change only through the named operation or an owner.'));
    page.appendChild(h('div.filters', filter));
    page.appendChild(body);
    function flat(d) {
      if (Array.isArray(d)) return d;
      if (d && Array.isArray(d.models) && d.models.length && d.models[0].model) return d.models;
      var out = [];
      list(d, 'domains').forEach(function (dom) {
        (dom.models || []).forEach(function (m) { m.domain = m.domain || dom.name || dom.domain; out.push(m); });
      });
      return out.length ? out : list(d, 'models');
    }
    function render() {
      var f = filter.value.trim().toLowerCase();
      var by = {};
      models.filter(function (m) {
        return !f || JSON.stringify(m).toLowerCase().indexOf(f) >= 0;
      }).forEach(function (m) { (by[m.domain] = by[m.domain] || []).push(m); });
      clear(body);
      Object.keys(by).sort().forEach(function (dom) {
        body.appendChild(h('section.card.domain', { 'data-test': 'dsl-domain', 'data-domain': dom },
          h('h2', dom),
          by[dom].map(function (m) {
            var guarded = {};
            (m.guarded || []).forEach(function (g) { guarded[g.field] = g.set_by || 'an owner'; });
            var refs = {};
            (m.refs || []).forEach(function (r) { refs[r.field] = r; });
            return h('div.model', { 'data-test': 'dsl-model', 'data-model': m.model },
              h('h3', h('code', m.global || m.model), ' ', h('span.muted', m.model)),
              h('ul.fields', (m.fields || []).map(function (fl) {
                var name = typeof fl === 'string' ? fl : fl.name;
                return h('li', h('code', name),
                  guarded[name] ? h('span.tag', 'set by ' + guarded[name]) : null,
                  refs[name] ? h('span.tag', '-> ' + refs[name].model + ' (' + refs[name].on_delete + ')') : null);
              })),
              (m.ops || []).length ? h('p', 'Operations: ', (m.ops || []).map(function (o) {
                return h('code.chip', (m.global || m.model) + '.' + (typeof o === 'string' ? o : o.name) + '()');
              })) : null);
          })));
      });
      if (!body.firstChild) body.appendChild(h('p.muted', 'no model matches'));
    }
    filter.addEventListener('input', render);
    api('GET', '/dsl').then(function (d) { models = flat(d); render(); }, failed('loading the DSL reference'));
  }

  /* ---- playground ------------------------------------------------------------------------------- */
  function loadHistory() {
    try { return JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]'); } catch (e) { return []; }
  }
  function saveHistory(hs) {
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(hs.slice(0, HISTORY_MAX))); } catch (e) { /* full */ }
  }

  function pagePlayground(page) {
    var hist = loadHistory();
    var last = hist[0] || {};
    var ta = h('textarea#pg-script', { spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off',
      'aria-label': 'script', wrap: 'off' });
    ta.value = last.script || '// a script: its last expression is the output\nprint("hello from the playground");\n1 + 1\n';
    var hl = h('pre#pg-highlight', { 'aria-hidden': 'true' });
    var gutter = h('ol#pg-lines.gutter', { 'aria-hidden': 'true' });
    var errLine = 0;
    var worker = h('input#pg-worker', { list: 'pg-workers', value: last.worker || '', placeholder: 'worker id' });
    var workers = h('datalist#pg-workers');
    var context = h('input#pg-context', { list: 'pg-contexts', value: last.context || '', placeholder: 'context (optional)' });
    var contexts = h('datalist#pg-contexts');
    var args = h('textarea#pg-args', { rows: 3, spellcheck: 'false' });
    args.value = last.args || '{}';
    var timeout = h('input#pg-timeout', { type: 'number', min: 100, value: last.timeout_ms || 10000 });
    var result = h('div#pg-result');
    var histList = h('ol#pg-history');

    function paint() {
      var lines = highlight(ta.value);
      clear(hl);
      lines.forEach(function (l, i) {
        hl.appendChild(h('span.hl-line' + (i + 1 === errLine ? '.err-line' : ''), l));
      });
      clear(gutter);
      for (var i = 1; i <= lines.length; i++) {
        gutter.appendChild(h('li' + (i === errLine ? '.err-line' : ''), { 'data-line': i }, String(i)));
      }
      sync();
    }
    function sync() { hl.scrollTop = ta.scrollTop; hl.scrollLeft = ta.scrollLeft; gutter.scrollTop = ta.scrollTop; }
    ta.addEventListener('input', function () { errLine = 0; paint(); });
    ta.addEventListener('scroll', sync);
    ta.addEventListener('keydown', function (ev) {
      if (ev.key === 'Tab' && !ev.shiftKey) {
        ev.preventDefault();
        var a = ta.selectionStart, b = ta.selectionEnd;
        ta.value = ta.value.slice(0, a) + '  ' + ta.value.slice(b);
        ta.selectionStart = ta.selectionEnd = a + 2;
        paint();
      } else if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        run();
      }
    });

    var runBtn = adminButton('Run', { id: 'pg-run', 'class': 'primary' }, run);
    function run() {
      var a;
      try { a = args.value.trim() ? JSON.parse(args.value) : {}; } catch (e) {
        flash('args: not JSON: ' + e.message, 'error');
        return;
      }
      var body = { script: ta.value, worker: worker.value.trim(), args: a, timeout_ms: +timeout.value || 10000 };
      if (context.value.trim()) body.context = context.value.trim();
      runBtn.disabled = true;
      clear(result).appendChild(h('p#pg-running.muted', 'running...'));
      api('POST', '/run', body).then(show, function (e) {
        clear(result).appendChild(h('p.error#pg-failed', 'run failed (' + e.status + '): ' + e.message));
        if (e.body && e.body.id) {
          result.appendChild(h('p', 'It goes on as task ',
            h('a#pg-task', { href: '#/task/' + encodeURIComponent(e.body.id) }, e.body.id), '.'));
        }
        if (e.status === 401 || e.status === 403) failed('run')(e);
      }).then(function () { runBtn.disabled = !isAdmin(); });
    }
    function show(r) {
      var line = r.line || lineOf(r.error);
      errLine = r.error ? line : 0;
      paint();
      clear(result).appendChild(h('div',
        h('p', 'Task ', h('a#pg-task', { href: '#/task/' + encodeURIComponent(r.id) }, r.id), ' ', statusBadge(r.status),
          h('span#pg-status.hidden', str(r.status))),
        r.error && (r.output === null || r.output === undefined) ? null : [h('h3', 'Output'), pre('pg-output', fmtJSON(r.output))],
        h('h3', 'Logs'), pre('pg-logs', str(r.logs)),
        r.error ? [h('h3', 'Error'), pre('pg-error', str(r.error_kind ? r.error_kind + ': ' : '') + str(r.error), 'error'),
          line ? h('p#pg-error-line.error', { 'data-line': line }, 'at line ' + line) : null] : null));
      hist.unshift({ script: ta.value, worker: worker.value.trim(), context: context.value.trim(),
        args: args.value, timeout_ms: +timeout.value, at: Date.now(), status: r.status, id: r.id });
      saveHistory(hist);
      renderHistory();
    }
    function renderHistory() {
      clear(histList);
      hist.forEach(function (e, i) {
        histList.appendChild(h('li', { 'data-test': 'history-entry' },
          h('a', { href: '', onclick: function (ev) {
            ev.preventDefault();
            ta.value = e.script; worker.value = e.worker || ''; context.value = e.context || '';
            args.value = e.args || '{}'; timeout.value = e.timeout_ms || 10000;
            errLine = 0; paint();
          } }, fmtTime(e.at) + '  ' + str(e.worker) + '  ', statusBadge(e.status), '  ',
          h('code', (e.script || '').split('\n').filter(function (l) { return l.trim() && !/^\s*\/\//.test(l); })[0] || '')),
          ' ',
          h('button.link', { type: 'button', title: 'forget', onclick: function () {
            hist.splice(i, 1); saveHistory(hist); renderHistory();
          } }, '\u00d7')));
      });
      if (!hist.length) histList.appendChild(h('li.muted', 'no runs yet'));
    }

    page.appendChild(h('h1', 'Playground'));
    if (!isAdmin()) page.appendChild(h('p.error#pg-readonly', 'Read-only: running scripts needs the admin role.'));
    page.appendChild(h('div.pg',
      h('div.pg-main',
        h('div.editor', gutter, h('div.editor-text', hl, ta)),
        h('div.filters',
          h('label', 'Worker ', worker, workers), h('label', 'Context ', context, contexts),
          h('label', 'Timeout (ms) ', timeout), runBtn, h('span.muted', 'Ctrl+Enter runs')),
        h('label.block', 'Args (JSON) ', args),
        result),
      h('aside.pg-side', h('h2', 'History'),
        h('button#pg-history-clear', { type: 'button', onclick: function () { hist = []; saveHistory(hist); renderHistory(); } }, 'Clear'),
        histList)));
    paint();
    renderHistory();
    api('GET', '/queues').then(function (qs) {
      list(qs, 'queues').forEach(function (q) { workers.appendChild(h('option', { value: q.worker })); });
      if (!worker.value && list(qs, 'queues').length) worker.value = list(qs, 'queues')[0].worker;
    }, function () {});
    api('GET', '/contexts').then(function (cs) {
      list(cs, 'contexts').forEach(function (c) { contexts.appendChild(h('option', { value: c.id })); });
    }, function () {});
  }

  /* ---- start ----------------------------------------------------------------------------------- */
  function start() {
    initLogin();
    $('flash').addEventListener('click', function () { $('flash').className = 'hidden'; });
    window.addEventListener('hashchange', route);
    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && $('modal').className === '') $('modal-cancel').click();
    });
    api('GET', '/me').then(function (m) { loggedIn(m); }, function () { showLogin(''); });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
