// knude administration pages: plain DOM, no framework. Every value from the API is put on the
// page with textContent, never as HTML. The bearer token lives in sessionStorage (gone when
// the tab closes); every call goes to /api/v1 on this same origin.
const $ = (sel) => document.querySelector(sel);
let me = null;

function token() { return sessionStorage.getItem('knude-token'); }

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(token() ? { authorization: `Bearer ${token()}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = res.status === 204 ? null : await res.json();
  if (res.status === 401 && path !== '/api/v1/session') signOut();
  if (!res.ok) throw new Error(data && data.detail ? data.detail : `HTTP ${res.status}`);
  return data;
}

function showError(err) { $('#error').textContent = err ? err.message : ''; }

function table(el, columns, rows) {
  const caption = el.querySelector('caption');
  el.replaceChildren(caption);
  const head = el.createTHead().insertRow();
  for (const [label] of columns) { const th = document.createElement('th'); th.scope = 'col'; th.textContent = label; head.append(th); }
  const tbody = el.createTBody();
  if (rows.length === 0) { const td = tbody.insertRow().insertCell(); td.colSpan = columns.length; td.textContent = 'None yet.'; }
  for (const row of rows) {
    const tr = tbody.insertRow();
    for (const [, value] of columns) {
      const cell = tr.insertCell();
      const v = value(row);
      if (v instanceof Node) cell.append(v); else cell.textContent = v ?? '';
    }
  }
}

function span(text, cls) { const s = document.createElement('span'); s.textContent = text; if (cls) s.className = cls; return s; }

function isoFromLocal(value) { return new Date(value).toISOString(); }
function local(iso) { return iso ? new Date(iso).toLocaleString() : ''; }

function formData(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) if (typeof v === 'string' && v.trim() !== '') out[k] = v.trim();
  if (!me || me.role !== 'operator') delete out.org;
  return out;
}

// ---- pages -----------------------------------------------------------------------------------

const pages = {
  async rooms() {
    const rooms = await api('GET', '/api/v1/rooms');
    table($('#rooms-table'), [
      ['Name', (r) => r.name], ['Id', (r) => r.id], ['Organisation', (r) => r.org], ['Kind', (r) => r.kind],
      ['PINs', (r) => [r.hostPin ? 'host' : '', r.guestPin ? 'guest' : ''].filter(Boolean).join(' + ')],
      ['Max', (r) => String(r.maxParticipants)], ['Aliases', (r) => r.aliases.join(' ')],
      ['Colour', (r) => { if (!r.color) return ''; const s = span(''); s.className = 'swatch'; s.style.background = r.color; s.title = r.color; return s; }],
    ], rooms);
  },
  async bookings() {
    const bookings = await api('GET', '/api/v1/bookings');
    const invitations = await Promise.all(bookings.map((b) => api('GET', `/api/v1/bookings/${encodeURIComponent(b.id)}/invitations`)));
    table($('#bookings-table'), [
      ['Title', (b) => b.title], ['Start', (b) => local(b.start)], ['End', (b) => local(b.end)], ['Status', (b) => b.status],
      ['Join link', (b) => { const a = document.createElement('a'); a.href = b.joinLink; a.textContent = b.joinAlias; return a; }],
      ['Participants', (b) => b.participants.map((p) => p.name).join(', ')],
      ['Invitations', (b) => {
        const list = invitations[bookings.indexOf(b)];
        const wrap = document.createElement('span');
        for (const m of list) wrap.append(span(`${m.channel} ${m.status}`, `status-${m.status}`), ' ');
        return wrap;
      }],
    ], bookings);
  },
  async users() {
    const users = await api('GET', '/api/v1/users');
    table($('#users-table'), [['User name', (u) => u.username], ['Name', (u) => u.displayName], ['Role', (u) => u.role], ['Organisation', (u) => u.org ?? '(all)'], ['E-mail', (u) => u.email]], users);
  },
  async accounts() {
    const accounts = await api('GET', '/api/v1/accounts');
    table($('#accounts-table'), [['Account', (a) => a.id], ['Organisation', (a) => a.org], ['Name', (a) => a.displayName], ['Aliases', (a) => a.aliases.join(' ')], ['Created', (a) => local(a.createdAt)]], accounts);
  },
  async plan() {
    const orgs = await api('GET', '/api/v1/organisations');
    table($('#plan-table'), [['Organisation', (o) => o.name], ['Name', (o) => o.displayName], ['Number blocks', (o) => o.blocks.join(' ')], ['Domains', (o) => o.domains.join(' ')]], orgs);
  },
  async usage() {
    const u = await api('GET', '/api/v1/usage');
    if (u.scope === 'node') void monthCharts().catch(showError);
    $('#usage-summary').textContent = u.scope === 'node'
      ? `Node: ${u.ports} ports${u.limits.maxPorts ? ` of ${u.limits.maxPorts}` : ''}, ${u.licences} licences${u.limits.maxLicences ? ` of ${u.limits.maxLicences}` : ''} (video ${u.byKind.video}, audio ${u.byKind.audio}, browser ${u.byKind.browser}).`
      : '';
    const max = Math.max(1, ...u.orgs.map((o) => o.quota ?? o.ports));
    table($('#usage-table'), [
      ['Organisation', (o) => o.org],
      ['Ports', (o) => String(o.ports)],
      ['Quota', (o) => (o.quota === null ? 'none' : String(o.quota))],
      ['', (o) => {
        const bar = document.createElement('meter');
        bar.min = 0; bar.max = o.quota ?? max; bar.value = o.ports;
        if (o.quota) { bar.high = o.quota * 0.8; bar.optimum = 0; }
        bar.setAttribute('aria-label', `${o.org}: ${o.ports} ports in use`);
        return bar;
      }],
    ], u.orgs);
  },
  async audit() {
    const entries = await api('GET', '/api/v1/audit?limit=200');
    table($('#audit-table'), [['When', (e) => local(e.at)], ['Who', (e) => e.actor], ['Organisation', (e) => e.org], ['What', (e) => `${e.action} (${e.method} ${e.path})`], ['Result', (e) => String(e.status)]], entries);
  },
};

async function show() {
  const name = (location.hash || '#rooms').slice(1);
  const page = pages[name] ? name : 'rooms';
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== page;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === `#${page}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  showError(null);
  try { await pages[page](); } catch (err) { showError(err); }
}

async function signedIn() {
  me = await api('GET', '/api/v1/me');
  $('#who').textContent = `${me.actor.replace(/^user:/, '')} · ${me.role}${me.org ? ` · ${me.org}` : ''}`;
  $('#sign-in').hidden = true;
  $('#nav').hidden = false;
  $('#sign-out').hidden = false;
  const rank = { booker: 1, 'org-admin': 2, operator: 3 };
  for (const el of document.querySelectorAll('[data-role]')) el.hidden = rank[me.role] < rank[el.dataset.role];
  for (const el of document.querySelectorAll('[data-operator-only]')) el.closest('label').hidden = me.role !== 'operator';
  const windows = await api('GET', '/api/v1/service-windows?current=true');
  const banner = $('#service-windows');
  banner.hidden = windows.length === 0;
  banner.textContent = windows.map((w) => `Service window ${local(w.start)} – ${local(w.end)}: ${w.description}`).join(' · ');
  await show();
}

function signOut() {
  sessionStorage.removeItem('knude-token');
  me = null;
  $('#sign-in').hidden = false;
  $('#nav').hidden = true;
  $('#sign-out').hidden = true;
  $('#who').textContent = '';
  for (const s of document.querySelectorAll('.page')) s.hidden = true;
}

function onSubmit(selector, handler) {
  $(selector).addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError(null);
    try { await handler(ev.target); } catch (err) { showError(err); }
  });
}

onSubmit('#sign-in-form', async (form) => {
  const { username, password } = Object.fromEntries(new FormData(form));
  const session = await api('POST', '/api/v1/session', { username, password });
  sessionStorage.setItem('knude-token', session.token);
  form.reset();
  await signedIn();
});

onSubmit('#room-form', async (form) => {
  const d = formData(form);
  await api('POST', '/api/v1/rooms', {
    name: d.name, ...(d.org ? { org: d.org } : {}), ...(d.hostPin ? { hostPin: d.hostPin } : {}), ...(d.guestPin ? { guestPin: d.guestPin } : {}),
    ...(d.maxParticipants ? { maxParticipants: Number(d.maxParticipants) } : {}), ...(d.color ? { color: d.color } : {}),
    ...(d.aliases ? { aliases: d.aliases.split(/[\s,]+/).filter(Boolean) } : {}),
  });
  form.reset();
  await pages.rooms();
});

onSubmit('#booking-form', async (form) => {
  const d = formData(form);
  const b = await api('POST', '/api/v1/bookings', {
    title: d.title, ...(d.org ? { org: d.org } : {}), start: isoFromLocal(d.start), end: isoFromLocal(d.end),
    participants: [{ name: d.name, ...(d.phone ? { phone: d.phone } : {}), ...(d.email ? { email: d.email } : {}) }],
  });
  $('#booking-result').textContent = `Booked "${b.title}": ${b.joinLink} — host PIN ${b.hostPin}, guest PIN ${b.guestPin} (shown once).`;
  form.reset();
  await pages.bookings();
});

onSubmit('#user-form', async (form) => {
  const d = formData(form);
  await api('POST', '/api/v1/users', d);
  form.reset();
  await pages.users();
});

$('#sign-out').addEventListener('click', signOut);
window.addEventListener('hashchange', () => { if (me) show(); });
/** The month's KPIs and charts (operators): the SVGs are shown as images, never inlined. */
async function monthCharts() {
  const month = new Date().toISOString().slice(0, 7);
  const r = await api('GET', `/api/v1/reports/monthly?month=${month}`);
  const svg = (s) => `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(s)))}`;
  $('#chart-ports-day').src = svg(r.charts.portsDay);
  $('#chart-daily-minutes').src = svg(r.charts.dailyMinutes);
  $('#chart-licences-month').src = svg(r.charts.licencesMonth);
  table($('#kpi-table'), [['Figure', (e) => e[0]], ['Value', (e) => (e[1] === null ? '–' : String(e[1]))]], Object.entries(r.kpis).filter(([, v]) => typeof v !== 'object' || v === null));
  $('#usage-charts').hidden = false;
}

setInterval(() => { if (me && location.hash === '#usage') pages.usage().catch(showError); }, 10_000);
if (token()) signedIn().catch(() => signOut()); else signOut();
