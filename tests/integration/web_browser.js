// web_browser.js -- drives the rhai console (src/web/assets) in headless
// chromium through chromedriver's WebDriver HTTP API, with Node's built-in
// fetch only (no npm package). Run by test_web_browser.sh, which starts
// redis-server, rhaid, rhai-web and chromedriver and passes them here:
//   WEB_URL DRIVER_URL ADMIN_TOKEN READ_TOKEN WORKER DEAD_WORKER LONG_ID
//   DEAD_ID CLAIMED_ID BLOCKER_ID CONTEXT [RHAI_SCREENSHOTS=DIR]
//   [CHROMIUM=/usr/bin/chromium]
//   [CHROME_PROFILE=DIR]
// Every check reads what the page shows (text, attributes of elements the
// console marks with ids and data-test); nothing sleeps for a fixed time:
// waits poll for a state with a deadline. Exit 0 when every check passed.
'use strict';
const fs = require('fs');
const path = require('path');

const env = (k, d) => {
  const v = process.env[k];
  if (v === undefined || v === '') {
    if (d !== undefined) return d;
    console.error(`web_browser.js: ${k} is not set`);
    process.exit(2);
  }
  return v;
};
const WEB = env('WEB_URL').replace(/\/$/, '');
const DRIVER = env('DRIVER_URL').replace(/\/$/, '');
const ADMIN_TOKEN = env('ADMIN_TOKEN');
const READ_TOKEN = env('READ_TOKEN');
const WORKER = env('WORKER');
const DEAD_WORKER = env('DEAD_WORKER');
const LONG_ID = env('LONG_ID');
const DEAD_ID = env('DEAD_ID');
const CLAIMED_ID = env('CLAIMED_ID');   // claimed, waiting behind BLOCKER_ID's loop
const BLOCKER_ID = env('BLOCKER_ID');
const CONTEXT = env('CONTEXT', '');
const SHOTS = process.env.RHAI_SCREENSHOTS || '';
const WAIT_MS = 20000;
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

let session = null;
let checks = 0;

// ---- WebDriver over HTTP -------------------------------------------------------
async function wd(method, p, body) {
  const r = await fetch(DRIVER + p, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) {
    const v = j.value || {};
    const e = new Error(`${method} ${p}: ${r.status} ${v.error || ''}: ${(v.message || '').split('\n')[0]}`);
    e.wd = v.error;
    throw e;
  }
  return j.value;
}
const S = (p) => `/session/${session}${p}`;

async function driverReady() {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const r = await fetch(DRIVER + '/status');
      if (r.ok && (await r.json()).value.ready) return;
    } catch (e) { /* not listening yet */ }
    if (Date.now() > deadline) fail(`chromedriver at ${DRIVER} is not ready`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function start() {
  await driverReady();
  const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--window-size=1280,1050', '--no-first-run', '--no-default-browser-check',
    '--disable-extensions', '--disable-background-networking'];
  if (process.env.CHROME_PROFILE) args.push(`--user-data-dir=${process.env.CHROME_PROFILE}`);
  const v = await wd('POST', '/session', {
    capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:loggingPrefs': { browser: 'ALL' },
      'goog:chromeOptions': { binary: process.env.CHROMIUM || '/usr/bin/chromium', args } } },
  });
  session = v.sessionId;
  await wd('POST', S('/timeouts'), { implicit: 0, pageLoad: 30000, script: 30000 });
}
async function stop() {
  if (session) {
    const s = session;
    session = null;
    await wd('DELETE', `/session/${s}`).catch(() => {});
  }
}
const nav = (url) => wd('POST', S('/url'), { url });
const exec = (script, args) => wd('POST', S('/execute/sync'), { script, args: args || [] });

async function find(css) {
  const v = await wd('POST', S('/element'), { using: 'css selector', value: css });
  return v[ELEMENT];
}
async function findAll(css) {
  const v = await wd('POST', S('/elements'), { using: 'css selector', value: css });
  return v.map((e) => e[ELEMENT]);
}
const click = async (css) => wd('POST', S(`/element/${await find(css)}/click`), {});
const text = async (css) => wd('GET', S(`/element/${await find(css)}/text`));
const prop = async (css, name) => wd('GET', S(`/element/${await find(css)}/property/${name}`));
async function type(css, value) {
  const e = await find(css);
  await wd('POST', S(`/element/${e}/clear`), {});
  await wd('POST', S(`/element/${e}/value`), { text: value });
}

// ---- checks ----------------------------------------------------------------------
function fail(msg) { throw new Error(msg); }
function ok(what) { checks++; console.log(`ok ${checks} - ${what}`); }

// waitFor(what, fn): polls fn (async, returns a truthy value once the page
// shows the state) every 100 ms for WAIT_MS; element-not-found counts as not yet.
async function waitFor(what, fn) {
  const deadline = Date.now() + WAIT_MS;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v) { ok(what); return v; }
    } catch (e) {
      if (e.wd !== 'no such element' && e.wd !== 'stale element reference') throw e;
      last = e.message;
    }
    if (Date.now() > deadline) {
      const flash = await text('#flash').catch(() => '');
      fail(`timed out waiting for: ${what}${last ? ` (${last})` : ''}${flash ? ` [flash: ${flash}]` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
const shows = (css, re) => async () => re.test(await text(css));
const visible = (css) => async () => wd('GET', S(`/element/${await find(css)}/displayed`));

async function shot(name) {
  if (!SHOTS) return;
  // let charts and fonts settle: wait until no fetch is pending
  const png = await wd('GET', S('/screenshot'));
  fs.mkdirSync(SHOTS, { recursive: true });
  fs.writeFileSync(path.join(SHOTS, `${name}.png`), Buffer.from(png, 'base64'));
  console.log(`# screenshot ${name}.png`);
}

// the browser's console since the last call: no script error, nothing the
// Content-Security-Policy (default-src 'self') blocked
async function noPageErrors() {
  const log = await wd('POST', S('/se/log'), { type: 'browser' });
  const bad = log.filter((e) => /Content Security Policy|Uncaught|SyntaxError|TypeError|ReferenceError/.test(e.message));
  if (bad.length) fail(`the page logged errors:\n${bad.map((e) => `  ${e.level} ${e.message}`).join('\n')}`);
  ok(`no script error and no CSP violation in the browser's console (${log.length} entries)`);
}

// the API with the admin token, as a script would (not through the page)
async function adminApi(method, p) {
  const r = await fetch(`${WEB}/api${p}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json' },
    body: method === 'GET' ? undefined : '{}',
  });
  if (!r.ok) fail(`${method} /api${p}: ${r.status} ${await r.text()}`);
  return r.json().catch(() => null);
}

async function go(hash) {
  await exec('location.hash = arguments[0];', [hash]);
}

async function login(token, role) {
  await nav(WEB + '/');
  await waitFor('the login form shows', visible('#login-form'));
  await type('#login-token', token);
  await click('#login-submit');
  await waitFor(`logged in with the ${role} role`, shows('#me-role', new RegExp(`^${role}$`)));
}
async function logout() {
  await click('#logout');
  await waitFor('logged out: the login form shows again', visible('#login-form'));
}

// ---- the scenario -----------------------------------------------------------------
async function scenario() {
  await start();
  await wd('POST', S('/window/rect'), { width: 1280, height: 1050 });

  // a wrong token is refused on the page
  await nav(WEB + '/');
  await waitFor('the login form shows', visible('#login-form'));
  await type('#login-token', 'not-a-token');
  await click('#login-submit');
  await waitFor('a wrong token is refused', shows('#login-error', /wrong token|too many/));

  // ---- admin: overview with the instance and its queue
  await login(ADMIN_TOKEN, 'admin');
  const inst = `#overview-instances tr[data-worker="${WORKER}"]`;
  await waitFor(`the overview lists an instance of ${WORKER}`, async () => (await text(inst)).includes(WORKER));
  await waitFor(`the instance of ${WORKER} is alive`, shows(`${inst} [data-test=status]`, /^live$/));
  await waitFor(`the overview lists the queue of ${WORKER}`,
    async () => (await text(`#overview-queues tr[data-worker="${WORKER}"]`)).includes(WORKER));
  await waitFor('the overview draws the throughput and latency charts',
    async () => (await findAll('svg#chart-throughput, svg#chart-latency')).length === 2);

  await go('#/queues');
  await waitFor(`the queues page lists ${WORKER}, active`,
    async () => (await text(`#queues-table tr[data-worker="${WORKER}"] [data-test=queue-state]`)) === 'active');
  await waitFor('the pause button is enabled for an admin',
    async () => !(await prop(`#queues-table tr[data-worker="${WORKER}"] [data-test=queue-pause]`, 'disabled')));
  await shot('queues');
  // pause, resume and purge (typed confirmation) the dead-letter worker's queue
  const dwRow = `#queues-table tr[data-worker="${DEAD_WORKER}"]`;
  await click(`${dwRow} [data-test=queue-pause]`);
  await waitFor(`${DEAD_WORKER} shows paused`, async () => (await text(`${dwRow} [data-test=queue-state]`)) === 'paused');
  await click(`${dwRow} [data-test=queue-resume]`);
  await waitFor(`${DEAD_WORKER} shows active again`, async () => (await text(`${dwRow} [data-test=queue-state]`)) === 'active');
  await click(`${dwRow} [data-test=queue-purge]`);
  await waitFor('purge asks to type the worker id', shows('#modal-hint', new RegExp(`Type "${DEAD_WORKER}"`)));
  await waitFor('purge stays disabled until the id is typed', async () => prop('#modal-ok', 'disabled'));
  await type('#modal-input', DEAD_WORKER);
  await waitFor('the typed id enables purge', async () => !(await prop('#modal-ok', 'disabled')));
  await click('#modal-ok');
  await waitFor('the purge is reported done', shows('#flash', new RegExp(`purge ${DEAD_WORKER}: done`)));

  // ---- playground: run a script, read its output and logs
  await go('#/playground');
  await waitFor('the playground shows its editor', visible('#pg-script'));
  await type('#pg-script', 'print("hello from the browser");\nvar n = args.n || 6;\nn * 7\n');
  await type('#pg-worker', WORKER);
  await type('#pg-args', '{"n": 6}');
  await waitFor('the editor numbers its lines', async () => (await findAll('#pg-lines li')).length >= 3);
  await waitFor('the editor highlights the script', async () => (await findAll('#pg-highlight .tk-kw')).length >= 1);
  await click('#pg-run');
  await waitFor('the playground shows the output 42', shows('#pg-output', /^42$/));
  await waitFor('the playground shows the logs', shows('#pg-logs', /hello from the browser/));
  await waitFor('the run is done', async () => (await prop('#pg-status', 'textContent')) === 'done');
  // an error, with its line marked in the gutter
  await type('#pg-script', 'print("about to fail");\nvar a = { n: args.n };\nthrow new Error("broken on purpose: " + a.n);\n');
  await click('#pg-run');
  await waitFor('the playground shows the error', shows('#pg-error', /broken on purpose: 6/));
  await waitFor('the playground names the error line 3', shows('#pg-error-line', /line 3\b/));
  await waitFor('the gutter marks line 3',
    async () => (await text('#pg-lines li.err-line')) === '3');
  await waitFor('the playground shows the logs before the error', shows('#pg-logs', /about to fail/));
  await waitFor('the history keeps both runs', async () => (await findAll('#pg-history [data-test=history-entry]')).length >= 2);
  await shot('playground');
  // the failed run's task page: script with the line marked, logs, error
  await click('#pg-task');
  await waitFor('the task page shows the failed run', shows('#task-status', /^error$/));
  await waitFor('the task page shows the error kind', shows('#task-error-kind', /^script$/));
  await waitFor('the task page marks line 3 of the script', async () =>
    (await findAll('#task-script li.err-line[data-line="3"]')).length === 1);
  await waitFor('the task page shows the error', shows('#task-error', /broken on purpose: 6/));
  await waitFor('the task page shows the args', shows('#task-args', /"n": 6/));
  await waitFor('a finished task cannot be cancelled', async () => prop('#task-cancel', 'disabled'));
  await shot('task');

  // ---- cancel a running task (submitted by the test, loops until cancelled)
  await go('#/tasks');
  await waitFor('the tasks page lists the finished playground runs',
    async () => (await findAll('#tasks-table tr[data-status=done]')).length >= 1 &&
      (await findAll('#tasks-table tr[data-status=error]')).length >= 1);
  await shot('tasks');
  // the filters: running tasks of WORKER only
  await type('#f-worker', WORKER);
  await click('#f-status option[value=running]');
  await click('#tasks-apply');
  await waitFor('filtered by status, the page lists running tasks only', async () => {
    const st = await exec('return Array.prototype.map.call(document.querySelectorAll(' +
      '"#tasks-table tr[data-test=task-row]"), function (r) { return r.getAttribute("data-status"); });');
    return st.length >= 1 && st.every((x) => x === 'running');
  });
  await waitFor(`the filtered list still has ${LONG_ID}`, async () => (await findAll(`#tasks-table tr[data-id="${LONG_ID}"]`)).length === 1);
  await click(`#tasks-table tr[data-id="${LONG_ID}"] [data-test=task-link]`);
  await waitFor('the task page shows it running', shows('#task-status', /^running$/));
  await waitFor('the task page shows its script', shows('#task-script', /while/));
  await click('#task-cancel');
  await waitFor('a confirmation asks before cancelling', visible('#modal-ok'));
  await click('#modal-ok');
  await waitFor('the task page shows it cancelled', shows('#task-status', /^cancelled$/));
  await waitFor('cancel is disabled once it ended', async () => prop('#task-cancel', 'disabled'));

  // ---- a claimed task's page: it refreshes until the task ends (claimed is
  // the moment between a worker's take and its start; the page once stopped
  // refreshing there and showed "claimed" for good)
  await go(`#/task/${encodeURIComponent(CLAIMED_ID)}`);
  await waitFor('the task page shows the waiting task claimed', shows('#task-status', /^claimed$/));
  await waitFor('a claimed task can be cancelled', async () => !(await prop('#task-cancel', 'disabled')));
  await adminApi('POST', `/tasks/${encodeURIComponent(BLOCKER_ID)}/cancel`);
  await waitFor('the claimed task\'s page follows it until it ends, with its logs',
    shows('#task-logs', /ran after the loop/));
  await waitFor('and shows it done', shows('#task-status', /^done$/));

  // ---- retry a dead task
  await go(`#/dead?worker=${encodeURIComponent(DEAD_WORKER)}`);
  const deadRow = `#dead-table tr[data-id="${DEAD_ID}"]`;
  await waitFor(`the dead set lists ${DEAD_ID}`, async () => (await text(deadRow)).includes(DEAD_ID));
  await shot('dead');
  await click(`${deadRow} [data-test=dead-pick]`);
  await click('#dead-retry-selected');
  await waitFor('the retry is reported done', shows('#flash', /retry of 1 dead task\(s\): done/));
  await waitFor(`${DEAD_ID} left the dead set`, async () => (await findAll(deadRow)).length === 0);
  await go(`#/task/${encodeURIComponent(DEAD_ID)}`);
  await waitFor('the retried task is queued or running again',
    shows('#task-status', /^(queued|running|timeout|error|done)$/));
  await waitFor('the retried task shows no dead-since time', async () => (await findAll('#task-dead-at')).length === 0);

  // ---- schedules: pause, resume, run now (which opens the task it fired)
  await go('#/schedules');
  const cron = '#schedules-table tr[data-name="nightly"]';
  await waitFor('the schedules page lists nightly with its cron', shows(cron, /0 3 \* \* \*/));
  await click(`${cron} [data-test=schedule-pause]`);
  await waitFor('nightly shows paused', shows(`${cron} [data-test=schedule-state]`, /^paused$/));
  await click(`${cron} [data-test=schedule-resume]`);
  await waitFor('nightly shows active again', shows(`${cron} [data-test=schedule-state]`, /^active$/));
  await waitFor('nightly shows its next tick (or that the worker computes it)',
    shows(`${cron} [data-test=schedule-next]`, /^(20\d\d-\d\d-\d\d \d\d:\d\d:\d\d|\(computing\))$/));
  await shot('schedules');
  await click(`${cron} [data-test=schedule-run]`);
  await waitFor('run now opens the task it fired, which prints its report',
    shows('#task-logs', /nightly report/));

  // ---- the other pages, for the screenshots and a look at each
  await go('#/contexts');
  await waitFor('the contexts page shows its table', visible('#contexts-table'));
  if (CONTEXT) {
    await waitFor(`the contexts page lists ${CONTEXT}`,
      async () => (await text(`#contexts-table tr[data-id="${CONTEXT}"]`)).includes(CONTEXT));
    await go(`#/context/${encodeURIComponent(CONTEXT)}`);
    await waitFor(`context ${CONTEXT} shows its owners`, async () => (await text('#context-owners')).length > 0);
    await waitFor(`context ${CONTEXT} shows its audit log`, visible('#audit-table'));
    // grant two callers through the form, revoke one with its confirmation
    for (const [caller, ops] of [['bob', 'read'], ['carol', 'read,update']]) {
      await type('#grant-caller', caller);
      await type('#grant-model', 'account');
      await type('#grant-ops', ops);
      await click('#grant-submit');
      await waitFor(`the grants list ${caller} on account`,
        async () => (await findAll(`#grants-table tr[data-caller="${caller}"][data-model="account"]`)).length === 1);
    }
    await click('#grants-table tr[data-caller="carol"] [data-test=grant-revoke]');
    await waitFor('a confirmation asks before revoking', visible('#modal-ok'));
    await click('#modal-ok');
    await waitFor('the revoked grant is gone', async () =>
      (await findAll('#grants-table tr[data-caller="carol"]')).length === 0);
    await click('#audit-apply');
    await waitFor('the audit log shows the console\'s grant and revoke', async () => {
      const t = await text('#audit-table');
      return /grant/.test(t) && /revoke/.test(t);
    });
  }
  await shot('contexts');
  await go('#/dsl');
  await waitFor('the DSL reference lists the finance domain',
    async () => (await findAll('[data-test=dsl-domain][data-domain=finance]')).length === 1);
  await waitFor('the DSL reference shows Account.transfer()', shows('[data-test=dsl-model][data-model=account]', /Account\.transfer\(\)/));
  await shot('dsl');

  // back on the overview: the chart counts the tasks run so far (rhai-web
  // samples every 5 s: polled, bounded by WAIT_MS)
  await go('#/overview');
  await waitFor('the overview offers a chart range', visible('#chart-range'));
  await click('#chart-range option[value="300000"]');
  await waitFor('the throughput chart counts the finished tasks', async () =>
    +(await wd('GET', S(`/element/${await find('svg#chart-throughput')}/attribute/data-sum-done`))) >= 1);
  await shot('overview');
  await noPageErrors();
  await logout();

  // ---- read-only: writes are disabled, and the API refuses them (403)
  await login(READ_TOKEN, 'read');
  await go('#/queues');
  const pause = `#queues-table tr[data-worker="${WORKER}"] [data-test=queue-pause]`;
  await waitFor('a read-only user sees the pause button disabled', async () => prop(pause, 'disabled'));
  // force the button the way a curious user with devtools would: the API says no
  await exec('var b = document.querySelector(arguments[0]); b.disabled = false; b.click();', [pause]);
  await waitFor('pausing as read-only is refused with 403 on the page', shows('#flash', /pause .* failed \(403\)/));
  await go('#/overview');
  await go('#/queues');
  await waitFor(`${WORKER} is still active`,
    async () => (await text(`#queues-table tr[data-worker="${WORKER}"] [data-test=queue-state]`)) === 'active');
  await go('#/playground');
  await waitFor('a read-only user sees Run disabled', async () => prop('#pg-run', 'disabled'));
  await waitFor('the playground says it is read-only', visible('#pg-readonly'));
  await noPageErrors();
  await logout();
}

(async () => {
  let rc = 0;
  try {
    await scenario();
    console.log(`web_browser.js: ${checks} checks passed`);
  } catch (e) {
    console.log(`not ok ${checks + 1} - ${e.message}`);
    if (session) {
      const page = await exec('return document.body.innerText.slice(0, 1500);').catch(() => '');
      if (page) console.log(`# the page showed:\n${String(page).replace(/^/gm, '#   ')}`);
      if (SHOTS) await shot('failure').catch(() => {});
    }
    rc = 1;
  } finally {
    await stop();
  }
  process.exit(rc);
})();
