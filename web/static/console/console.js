// The dispatcher's console: queue, map, incident panel; live by Server-Sent Events.

import { errorMessage, getJSON, postJSON } from './api.js';
import { escapeHtml, makeFormat } from './format.js';
import { ConsoleMap } from './map.js';
import { queueOrder, renderQueue, tickAges } from './queue.js';
import {
  filterOtherUnits, flatRecommendations, planMet, renderCreateForm, renderEmpty, renderIncident,
  updateDraft,
} from './detail.js';
import { Live } from './live.js';

const config = JSON.parse(document.getElementById('console-config').textContent);
const t = JSON.parse(document.getElementById('console-messages').textContent);
const fmt = makeFormat(config.lang, t, config.clock);
const rtl = document.documentElement.dir === 'rtl';
const $ = (id) => document.getElementById(id);
const detailEl = $('detail');
const queueEl = $('queue');
const mapEl = $('map');
const ASSIGNED_ROUTE = '#343a40';

const state = {
  incidents: [], // open incidents, queue order
  selectedId: null,
  selected: null, // the selected incident (fresh from the API)
  recs: new Map(), // incident id -> recommendation (undefined while loading)
  events: new Map(), // incident id -> timeline events
  units: new Map(), // unit id -> properties
  draft: null, // {lat, lon, address}
  callAnsweredAt: null, // when the new-incident form was opened (the call answered)
  confirmRelease: null, // assignment id awaiting the dispatcher's confirmation
  // "assign another unit": open for which incident, its available units (undefined while
  // loading, null after a failure) and the search typed
  others: { incidentId: null, open: false, data: undefined, query: '' },
  mode: 'empty',
};
// The server's clock minus this browser's (from the page's render time): the moment a
// call is answered is sent on the server's clock, so a skewed desk clock does not count.
const clockOffsetMs = (() => {
  const server = Date.parse(config.clock.now);
  return Number.isNaN(server) ? 0 : server - Date.now();
})();
const serverNow = () => new Date(Date.now() + clockOffsetMs);

const ctx = {
  t, fmt, config, units: state.units, arrow: rtl ? '←' : '→',
  capability: (code) => config.catalogue.capabilities.find((c) => c.code === code) || { name_en: code, name_ar: code },
  agency: (code) => config.catalogue.agencies.find((a) => a.code === code) || { code, name_en: code, name_ar: code },
  incidentType: (code) => config.catalogue.incident_types.find((x) => x.code === code) || { name_en: code, name_ar: code },
  unitType: (code) => (config.catalogue.unit_types || []).find((x) => x.code === code) || { name_en: code, name_ar: code },
};

const cmap = new ConsoleMap(mapEl, { config, t, fmt });
// For people and tests poking at the page from the developer tools.
window.__najdaMap = cmap.map;
window.__najdaUnitLatLng = (id) => { const m = cmap.unitMarkers.get(id); return m ? m.getLatLng() : null; };
const incidentsUrl = (id, tail = '') => `${config.api.incidents}/${id}${tail}`;

// -- small helpers -----------------------------------------------------------------------
function toast(message, kind = 'info') {
  const el = document.createElement('div');
  el.className = `toast ${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = message;
  $('toasts').appendChild(el);
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 3500);
}

// An API failure in the user's language, by its error code (see api.js).
function errorText(error) {
  return `${t.error}: ${errorMessage(error, t, fmt)}`;
}

function coalesce(fn, ms) {
  let timer = null;
  let running = null;
  return () => {
    if (timer) return;
    timer = setTimeout(async () => {
      timer = null;
      if (running) await running.catch(() => {});
      running = fn().catch((e) => console.warn(e));
    }, ms);
  };
}

// -- data ----------------------------------------------------------------------------------
async function loadQueue() {
  const data = await getJSON(config.api.incidents, { status: config.lifecycle.open.join(','), limit: 500 });
  state.incidents = data.incidents.slice().sort(queueOrder);
  renderQueueNow();
  const shown = state.incidents.slice();
  if (state.selected && !shown.some((i) => i.id === state.selected.id)) shown.push(state.selected);
  cmap.setIncidents(shown, state.selectedId, select);
}

function renderQueueNow() {
  renderQueue(queueEl, state.incidents, { selectedId: state.selectedId, fmt, t, onSelect: select });
  $('queue-count').textContent = fmt.number(state.incidents.length);
  $('queue-empty').hidden = state.incidents.length > 0;
}

async function loadUnits() {
  const data = await getJSON(config.api.units);
  state.units.clear();
  for (const f of data.features) state.units.set(f.properties.id, f.properties);
  cmap.setUnits(data.features);
}

async function loadSelected({ recommend = false } = {}) {
  const id = state.selectedId;
  if (id === null) return;
  const [incident, timeline] = await Promise.all([
    getJSON(incidentsUrl(id)), getJSON(incidentsUrl(id, '/timeline')),
  ]);
  if (state.selectedId !== id) return;
  state.selected = incident;
  state.events.set(id, timeline.events);
  const open = config.lifecycle.open.includes(incident.status) && !planMet(incident);
  if (!open) state.recs.set(id, null);
  renderSelected();
  if (open && (recommend || !state.recs.has(id))) await loadRecommendations(id);
}

async function loadRecommendations(id) {
  state.recs.set(id, undefined);
  renderSelected();
  let rec = null;
  try {
    rec = await getJSON(incidentsUrl(id, '/recommendations'));
  } catch (error) {
    toast(errorText(error), 'error');
  }
  if (state.selectedId !== id) return;
  state.recs.set(id, rec);
  renderSelected({ fit: true });
}

function othersFor(id) {
  return state.others.incidentId === id ? state.others : { open: false };
}

async function loadOtherUnits(id) {
  if (state.others.incidentId !== id || !state.others.open) return;
  let data = null;
  try {
    data = await getJSON(incidentsUrl(id, '/available-units'));
  } catch (error) {
    toast(errorText(error), 'error');
  }
  if (state.others.incidentId !== id || !state.others.open) return;
  state.others.data = data;
  renderSelected();
}

function toggleOtherUnits(incident) {
  const open = !(state.others.incidentId === incident.id && state.others.open);
  state.others = { incidentId: incident.id, open, data: undefined, query: '' };
  renderSelected();
  if (open) {
    const input = $('other-search');
    if (input) input.focus();
    loadOtherUnits(incident.id);
  } else {
    const toggle = $('assign-other-toggle');
    if (toggle) toggle.focus();
  }
}

// -- the panel -------------------------------------------------------------------------------
function routesFor(incident, rec) {
  const routes = [];
  for (const a of incident.assignments.filter((x) => x.active)) {
    routes.push({ unit_id: a.unit_id, route: a.route, color: ASSIGNED_ROUTE, kind: 'assigned' });
  }
  const assigned = new Set(routes.map((r) => r.unit_id));
  for (const r of flatRecommendations(rec)) {
    if (!assigned.has(r.unit_id)) routes.push({ unit_id: r.unit_id, route: r.route, color: r.color, kind: 'recommended' });
  }
  return routes;
}

function renderSelected({ fit = false } = {}) {
  const incident = state.selected;
  if (!incident || state.mode !== 'incident') return;
  const rec = state.recs.get(incident.id);
  // Keep the dispatcher's ticks across a re-render.
  const unticked = new Set([...detailEl.querySelectorAll('.rec-row')]
    .filter((row) => !row.querySelector('.rec-pick').checked).map((row) => Number(row.dataset.unitId)));
  const scroll = detailEl.scrollTop;
  // Keep a half-typed priority change and the keyboard focus across a (live) re-render.
  const prioritySelect = $('priority-new');
  const kept = prioritySelect && prioritySelect.dataset.touched
    ? { priority: prioritySelect.value, reason: $('priority-change-reason').value }
    : { priority: null, reason: $('priority-change-reason') ? $('priority-change-reason').value : '' };
  const focused = focusKey(document.activeElement);
  ctx.confirmRelease = state.confirmRelease;
  renderIncident(detailEl, incident, ctx, {
    rec, events: state.events.get(incident.id), others: othersFor(incident.id),
  });
  detailEl.scrollTop = scroll;
  bindPanelControls(incident, kept);
  bindOtherUnits(incident);
  restoreFocus(focused);
  for (const row of detailEl.querySelectorAll('.rec-row')) {
    if (unticked.has(Number(row.dataset.unitId))) row.querySelector('.rec-pick').checked = false;
    const unitId = Number(row.dataset.unitId);
    row.addEventListener('mouseenter', () => cmap.highlightRoute(unitId, true));
    row.addEventListener('mouseleave', () => cmap.highlightRoute(unitId, false));
  }
  const assign = $('assign-selected');
  if (assign) assign.addEventListener('click', assignSelected);
  for (const button of detailEl.querySelectorAll('[data-transition]')) {
    button.addEventListener('click', () => transition(button.dataset.transition));
  }
  cmap.setRoutes(routesFor(incident, rec), { fit });
}

async function select(id) {
  if (state.mode === 'create') cancelCreate();
  state.mode = 'incident';
  if (state.selectedId !== id) state.confirmRelease = null;
  state.selectedId = id;
  state.selected = state.incidents.find((i) => i.id === id) || null;
  renderQueueNow();
  cmap.setIncidents(state.incidents, id, select);
  const item = queueEl.querySelector(`[data-incident-id="${id}"]`);
  if (item) item.scrollIntoView({ block: 'nearest' });
  if (state.selected) {
    cmap.focusIncident(state.selected);
    renderSelected();
  }
  try {
    await loadSelected({ recommend: true });
  } catch (error) {
    toast(errorText(error), 'error');
  }
}

function deselect() {
  state.mode = 'empty';
  state.selectedId = null;
  state.selected = null;
  state.confirmRelease = null;
  cmap.setRoutes([]);
  renderQueueNow();
  cmap.setIncidents(state.incidents, null, select);
  renderEmpty(detailEl, ctx);
}

function moveSelection(step) {
  if (!state.incidents.length) return;
  const idx = state.incidents.findIndex((i) => i.id === state.selectedId);
  const next = idx === -1 ? (step > 0 ? 0 : state.incidents.length - 1)
    : (idx + step + state.incidents.length) % state.incidents.length;
  select(state.incidents[next].id);
}

function focusKey(el) {
  if (!el || !detailEl.contains(el)) return null;
  if (el.id) return `#${el.id}`;
  for (const name of ['data-release', 'data-release-confirm', 'data-release-cancel', 'data-transition', 'data-assign-unit']) {
    if (el.hasAttribute(name)) return `[${name}="${el.getAttribute(name)}"]`;
  }
  return null;
}

function restoreFocus(key) {
  if (!key) return;
  const el = detailEl.querySelector(key);
  if (el) el.focus();
}

function bindOtherUnits(incident) {
  const toggle = $('assign-other-toggle');
  if (toggle) toggle.addEventListener('click', () => toggleOtherUnits(incident));
  const input = $('other-search');
  if (input) {
    filterOtherUnits(detailEl, state.others.query);
    input.addEventListener('input', () => {
      state.others.query = input.value;
      filterOtherUnits(detailEl, input.value);
    });
  }
  for (const button of detailEl.querySelectorAll('[data-assign-unit]')) {
    button.addEventListener('click', () => assignByHand(incident, Number(button.dataset.assignUnit)));
  }
}

function bindPanelControls(incident, kept) {
  for (const button of detailEl.querySelectorAll('[data-release]')) {
    button.addEventListener('click', () => askRelease(Number(button.dataset.release)));
  }
  for (const button of detailEl.querySelectorAll('[data-release-confirm]')) {
    button.addEventListener('click', () => release(Number(button.dataset.releaseConfirm)));
  }
  for (const button of detailEl.querySelectorAll('[data-release-cancel]')) {
    button.addEventListener('click', () => cancelRelease(true));
  }
  const form = $('priority-form');
  if (!form) return;
  const select = $('priority-new');
  const reason = $('priority-change-reason');
  if (kept.priority !== null) { select.value = kept.priority; select.dataset.touched = '1'; }
  reason.value = kept.reason || '';
  select.addEventListener('change', () => { select.dataset.touched = '1'; });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    changePriority(incident, Number(select.value), reason.value.trim());
  });
}

// -- actions ---------------------------------------------------------------------------------
function askRelease(assignmentId) {
  if (!config.user.can_dispatch) return;
  state.confirmRelease = assignmentId;
  renderSelected();
  const yes = detailEl.querySelector(`[data-release-confirm="${assignmentId}"]`);
  if (yes) yes.focus();
}

function cancelRelease(refocus = false) {
  const id = state.confirmRelease;
  state.confirmRelease = null;
  renderSelected();
  if (refocus) {
    const button = detailEl.querySelector(`[data-release="${id}"]`);
    if (button) button.focus();
  }
}

async function release(assignmentId) {
  const incident = state.selected;
  if (!incident || !config.user.can_dispatch) return;
  const a = incident.assignments.find((x) => x.id === assignmentId);
  state.confirmRelease = null;
  try {
    state.selected = await postJSON(incidentsUrl(incident.id, `/assignments/${assignmentId}/release`), { reason: 'released' });
    toast(`${t.released_ok}: ${a ? a.call_sign : assignmentId}`, 'ok');
    renderSelected();
    await Promise.all([loadUnits(), loadQueue(), loadSelected({ recommend: true })]);
  } catch (error) {
    toast(errorText(error), 'error');
    await loadSelected().catch(() => {});
  }
}

async function changePriority(incident, priority, reason) {
  const error = $('priority-error');
  const show = (message) => { if (error) { error.textContent = message; error.hidden = !message; } };
  if (!config.user.can_override) return;
  if (priority === incident.priority) { show(t.priority_unchanged); return; }
  if (!reason) { show(t.priority_reason_required); $('priority-change-reason').focus(); return; }
  const submit = $('priority-submit');
  if (submit) submit.disabled = true;
  try {
    state.selected = await postJSON(incidentsUrl(incident.id, '/priority'), { priority, reason });
    toast(`${t.priority_changed_ok}: ${fmt.number(priority)}`, 'ok');
    const select = $('priority-new');
    if (select) delete select.dataset.touched;
    if ($('priority-change-reason')) $('priority-change-reason').value = '';
    await Promise.all([loadQueue(), loadSelected()]);
  } catch (err) {
    show(errorMessage(err, t, fmt));
    if (submit) submit.disabled = false;
  }
}

async function assignSelected() {
  const incident = state.selected;
  if (!incident || !config.user.can_dispatch) return;
  const rows = [...detailEl.querySelectorAll('.rec-row')].filter((row) => row.querySelector('.rec-pick').checked);
  if (!rows.length) return;
  const button = $('assign-selected');
  if (button) button.disabled = true;
  try {
    const units = rows.map((row) => ({ unit_id: Number(row.dataset.unitId), capability: row.dataset.capability }));
    state.selected = await postJSON(incidentsUrl(incident.id, '/assignments'), { units });
    toast(`${t.assigned_ok}: ${rows.map((r) => r.querySelector('.call-sign').textContent).join(config.lang === 'ar' ? '، ' : ', ')}`, 'ok');
    await Promise.all([loadUnits(), loadQueue(), loadSelected({ recommend: true })]);
  } catch (error) {
    toast(errorText(error), 'error');
    await loadSelected({ recommend: true }).catch(() => {});
  }
}

// The plan requirement a unit picked by hand fills: the first one still short that the
// unit can serve (none: it comes as an extra unit).
function capabilityFor(incident, unit) {
  const active = incident.assignments.filter((a) => a.active);
  const short = (incident.type.response_plan || []).find((req) => unit.capabilities.includes(req.capability)
    && active.filter((a) => a.capability === req.capability).length < req.count);
  return short ? short.capability : null;
}

async function assignByHand(incident, unitId) {
  if (!config.user.can_dispatch) return;
  const unit = ((state.others.data && state.others.data.units) || []).find((u) => u.unit_id === unitId);
  if (!unit) return;
  const button = detailEl.querySelector(`[data-assign-unit="${unitId}"]`);
  if (button) button.disabled = true;
  try {
    const capability = capabilityFor(incident, unit);
    state.selected = await postJSON(incidentsUrl(incident.id, '/assignments'), {
      units: [capability ? { unit_id: unitId, capability } : { unit_id: unitId }],
    });
    toast(`${t.assigned_ok}: ${unit.call_sign}`, 'ok');
    state.others.data = undefined;
    await Promise.all([loadUnits(), loadQueue(), loadSelected({ recommend: true })]);
    await loadOtherUnits(incident.id);
  } catch (error) {
    toast(errorText(error), 'error');
    state.others.data = undefined;
    renderSelected();
    await loadOtherUnits(incident.id).catch(() => {});
  }
}

async function transition(status) {
  const incident = state.selected;
  if (!incident) return;
  try {
    state.selected = await postJSON(incidentsUrl(incident.id, '/transitions'), { status });
    await Promise.all([loadSelected(), loadQueue(), loadUnits()]);
  } catch (error) {
    toast(errorText(error), 'error');
  }
}

// -- creating an incident --------------------------------------------------------------------
function startCreate(latlng, address) {
  if (!config.user.can_dispatch) return;
  const fresh = state.mode !== 'create';
  // The call is answered when the form opens: call handling is measured from here.
  if (fresh) state.callAnsweredAt = serverNow();
  state.mode = 'create';
  state.selectedId = null;
  state.selected = null;
  cmap.setRoutes([]);
  renderQueueNow();
  cmap.setIncidents(state.incidents, null, select);
  state.draft = { lat: latlng.lat, lon: latlng.lng, address: address || (state.draft && !fresh ? state.draft.address : '') };
  cmap.setDraft(latlng, (moved) => {
    state.draft.lat = moved.lat;
    state.draft.lon = moved.lng;
    updateDraft(detailEl, state.draft, fmt);
  });
  if (fresh) {
    renderCreateForm(detailEl, ctx, state.draft, { onSubmit: submitCreate, onCancel: cancelCreate });
    $('incident-type').focus();
  } else {
    updateDraft(detailEl, state.draft, fmt);
  }
  mapEl.dataset.draft = 'true';
}

function cancelCreate() {
  state.draft = null;
  state.callAnsweredAt = null;
  cmap.clearDraft();
  mapEl.dataset.draft = 'false';
  if (state.mode === 'create') {
    state.mode = 'empty';
    renderEmpty(detailEl, ctx);
  }
}

async function submitCreate(body, showError) {
  if (!state.draft) return;
  const submit = $('create-submit');
  submit.disabled = true;
  try {
    const payload = { ...body, location: { lon: state.draft.lon, lat: state.draft.lat } };
    if (state.callAnsweredAt) payload.call_answered_at = state.callAnsweredAt.toISOString();
    const created = await postJSON(config.api.incidents, payload);
    toast(`${t.created}: ${created.number}`, 'ok');
    cancelCreate();
    await loadQueue();
    await select(created.id);
  } catch (error) {
    showError(errorMessage(error, t, fmt));
    submit.disabled = false;
  }
}

// -- search ------------------------------------------------------------------------------------
function setupSearch() {
  const input = $('search');
  const list = $('search-results');
  let controller = null;
  let results = [];
  let active = -1;
  const close = () => { list.hidden = true; input.setAttribute('aria-expanded', 'false'); active = -1; };
  const choose = (i) => {
    const r = results[i];
    if (!r) return;
    close();
    input.value = fmt.name(r);
    cmap.flyTo(r);
    startCreate(L.latLng(r.lat, r.lon), fmt.name(r));
  };
  const show = () => {
    list.replaceChildren(...(results.length ? results.map((r, i) => {
      const li = document.createElement('li');
      li.setAttribute('role', 'option');
      li.className = `result kind-${r.kind}${i === active ? ' active' : ''}`;
      li.dataset.kind = r.kind;
      const other = config.lang === 'ar' ? r.name_en : r.name_ar;
      li.innerHTML = `<span class="r-kind">${escapeHtml(t[`kind_${r.kind}`] || r.kind)}</span>
        <span class="r-name">${escapeHtml(fmt.name(r))}</span>
        ${other && other !== fmt.name(r) ? `<span class="r-other" dir="auto">${escapeHtml(other)}</span>` : ''}`;
      li.addEventListener('mousedown', (e) => { e.preventDefault(); choose(i); });
      return li;
    }) : [Object.assign(document.createElement('li'), { className: 'none', textContent: t.search_none })]));
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  };
  const run = async () => {
    const q = input.value.trim();
    if (controller) controller.abort();
    if (!q) { close(); return; }
    controller = new AbortController();
    try {
      const data = await getJSON(config.api.search, { q, limit: 8 }, { signal: controller.signal });
      results = data.results;
      active = results.length ? 0 : -1;
      show();
    } catch (error) {
      if (error.name !== 'AbortError') toast(`${t.search_failed}: ${errorMessage(error, t, fmt)}`, 'error');
    }
  };
  let timer = null;
  input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(run, 180); });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && results.length) { e.preventDefault(); active = (active + 1) % results.length; show(); }
    else if (e.key === 'ArrowUp' && results.length) { e.preventDefault(); active = (active - 1 + results.length) % results.length; show(); }
    else if (e.key === 'Enter') { e.preventDefault(); if (active >= 0) choose(active); }
    else if (e.key === 'Escape') { close(); input.blur(); }
  });
  input.addEventListener('blur', () => setTimeout(close, 150));
}

// -- keyboard --------------------------------------------------------------------------------
const NOT_TEXT = new Set(['checkbox', 'radio', 'button', 'submit', 'reset']);

function typing(target) {
  if (!target) return false;
  if (target.tagName === 'INPUT') return !NOT_TEXT.has(target.type);
  return target.isContentEditable || ['TEXTAREA', 'SELECT'].includes(target.tagName);
}

function setupKeys() {
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'Escape') {
      if (state.mode === 'incident' && state.confirmRelease !== null) cancelRelease(true);
      else if (state.mode === 'create') cancelCreate();
      else if (state.mode === 'incident' && !typing(e.target)) deselect();
      return;
    }
    if (typing(e.target)) return;
    const key = e.key.toLowerCase();
    // e.code keeps the shortcuts where they are on an Arabic keyboard layout too
    const code = e.code;
    if (key === 'n' || code === 'KeyN') { e.preventDefault(); startCreate(cmap.map.getCenter()); }
    else if (key === 'j' || code === 'KeyJ' || e.key === 'ArrowDown') { e.preventDefault(); moveSelection(1); }
    else if (key === 'k' || code === 'KeyK' || e.key === 'ArrowUp') { e.preventDefault(); moveSelection(-1); }
    else if (key === 'a' || code === 'KeyA') { e.preventDefault(); assignSelected(); }
    else if (e.key === '/' || code === 'Slash') { e.preventDefault(); $('search').focus(); }
  });
}

// -- live ------------------------------------------------------------------------------------
const refreshQueue = coalesce(loadQueue, 150);
const refreshUnits = coalesce(loadUnits, 250);
const refreshSelected = coalesce(() => loadSelected(), 200);

function idsIn(payload) {
  return [payload.id, payload.incident_id, payload.incident && payload.incident.id].filter((x) => x !== undefined && x !== null);
}

function onLiveEvent(event) {
  const p = event.payload || {};
  mapEl.dataset.lastEvent = event.kind;
  if (event.kind.startsWith('unit.')) {
    const id = p.unit_id ?? p.id;
    const unit = state.units.get(id);
    const lon = p.lon ?? (p.location && p.location.lon);
    const lat = p.lat ?? (p.location && p.location.lat);
    if (event.kind === 'unit.position' && unit && lon !== undefined && lat !== undefined) {
      const props = { ...unit, last_fix_at: p.fix_at || p.fix_time || p.at || unit.last_fix_at, stale: false, position_source: 'gps' };
      if (p.status) props.status = p.status;
      state.units.set(id, props);
      cmap.upsertUnit(props, [lon, lat]);
    } else {
      refreshUnits();
    }
    if (state.selected && state.selected.assignments.some((a) => a.active && a.unit_id === id)) refreshSelected();
    return;
  }
  if (event.kind.startsWith('incident.') || event.kind.startsWith('assignment.')) {
    refreshQueue();
    if (event.kind.startsWith('assignment.')) refreshUnits();
    if (state.selectedId !== null && idsIn(p).includes(state.selectedId)) refreshSelected();
  }
}

function setLiveState(s) {
  const pill = $('live');
  pill.dataset.state = s;
  pill.querySelector('.label').textContent = { sse: t.live_sse, polling: t.live_polling, down: t.live_down, connecting: '…' }[s] || s;
}

async function pollAll() {
  await Promise.all([loadQueue(), loadUnits(), state.selectedId !== null ? loadSelected() : null]);
}

// -- the clock ----------------------------------------------------------------------------
function tickClock() {
  const now = new Date();
  $('clock-time').textContent = fmt.time(now);
  const d = fmt.dates(now);
  $('clock-greg').textContent = d.gregorian;
  $('clock-hijri').textContent = d.hijri;
  tickAges(queueEl, fmt);
}

// -- start ----------------------------------------------------------------------------------
async function main() {
  renderEmpty(detailEl, ctx);
  setupKeys();
  setupSearch();
  tickClock();
  setInterval(tickClock, 1000);
  $('new-incident').addEventListener('click', () => startCreate(cmap.map.getCenter()));
  $('logout').addEventListener('click', async () => {
    await postJSON(config.api.logout, {}).catch(() => {});
    window.location.assign(config.login_page);
  });
  cmap.on('click', (e) => startCreate(e.latlng));
  await cmap.drawBase();
  await Promise.all([loadQueue(), loadUnits()]);
  mapEl.dataset.state = 'ready';
  new Live({ url: config.api.events, onEvent: onLiveEvent, onPoll: pollAll, onState: setLiveState }).start();
  // A slow safety net beside the event stream: staleness ages, and any change that was
  // not published as an event (or was dropped while the stream reconnected).
  setInterval(() => {
    if ($('live').dataset.state === 'sse') pollAll().catch(() => {});
  }, (config.resync_s || 15) * 1000);
}

main().catch((error) => {
  mapEl.dataset.state = 'error';
  toast(errorText(error), 'error');
  console.error(error);
});
