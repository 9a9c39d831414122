// The side panel: nothing selected, the new-incident form, or the selected incident
// (its plan, recommended units, assigned units, lifecycle and timeline).

import { escapeHtml } from './format.js';
import { ROUTE_COLORS } from './map.js';

const STEPS = ['received', 'dispatched', 'en_route', 'on_scene', 'cleared', 'closed'];

export function renderEmpty(el, { t }) {
  el.innerHTML = `
    <div class="detail-empty">
      <h2>${escapeHtml(t.select_prompt_title)}</h2>
      <p class="muted">${escapeHtml(t.select_prompt)}</p>
    </div>`;
}

// -- the new incident form -------------------------------------------------------------
function typeOptions(ctx) {
  const { catalogue } = ctx.config;
  const byCategory = new Map();
  for (const type of catalogue.incident_types) {
    if (!byCategory.has(type.category)) byCategory.set(type.category, []);
    byCategory.get(type.category).push(type);
  }
  const categories = catalogue.categories.length
    ? catalogue.categories.map((c) => c.code).filter((c) => byCategory.has(c))
    : [...byCategory.keys()];
  return categories.map((code) => {
    const cat = catalogue.categories.find((c) => c.code === code) || { name_en: code, name_ar: code };
    const types = byCategory.get(code).slice().sort((a, b) => a.default_priority - b.default_priority
      || ctx.fmt.name(a).localeCompare(ctx.fmt.name(b)));
    return `<optgroup label="${escapeHtml(ctx.fmt.name(cat))}">${types.map((ty) => `
      <option value="${escapeHtml(ty.code)}" data-priority="${ty.default_priority}">${escapeHtml(ctx.fmt.name(ty))}</option>`).join('')}
    </optgroup>`;
  }).join('');
}

export function renderCreateForm(el, ctx, draft, { onSubmit, onCancel }) {
  const { t, fmt } = ctx;
  el.innerHTML = `
    <form class="create-form" id="create-form" novalidate>
      <div class="detail-head"><h2>${escapeHtml(t.new_incident)}</h2></div>
      <p class="muted small">${escapeHtml(t.new_incident_hint)}</p>
      <div class="field-row location-row">
        <span class="label">${escapeHtml(t.location)}</span>
        <span class="coords" id="draft-coords" dir="ltr"></span>
      </div>
      <label>${escapeHtml(t.incident_type)}
        <select name="type" id="incident-type" required>
          <option value="">${escapeHtml(t.choose_type)}</option>${typeOptions(ctx)}
        </select>
      </label>
      <label>${escapeHtml(t.priority)}
        <select name="priority" id="incident-priority">
          ${[1, 2, 3, 4, 5].map((p) => `<option value="${p}">${escapeHtml(t[`priority_${p}`])}</option>`).join('')}
        </select>
      </label>
      <label class="reason" id="reason-label" hidden>${escapeHtml(t.priority_reason)}
        <input name="priority_reason" id="priority-reason" dir="auto" maxlength="500">
      </label>
      <label>${escapeHtml(t.address)}
        <input name="address" id="incident-address" dir="auto" maxlength="500">
      </label>
      <label>${escapeHtml(t.caller_number)}
        <input name="caller_number" id="caller-number" dir="ltr" inputmode="tel" maxlength="32">
      </label>
      <label>${escapeHtml(t.description)}
        <textarea name="description" id="incident-description" rows="2" dir="auto" maxlength="4000"></textarea>
      </label>
      <p class="form-error" id="create-error" role="alert" hidden></p>
      <div class="actions">
        <button type="submit" class="btn btn-primary" id="create-submit">${escapeHtml(t.create)}</button>
        <button type="button" class="btn" id="create-cancel">${escapeHtml(t.cancel)} <kbd>Esc</kbd></button>
      </div>
    </form>`;
  const form = el.querySelector('form');
  const type = form.querySelector('#incident-type');
  const priority = form.querySelector('#incident-priority');
  const reasonLabel = form.querySelector('#reason-label');
  let defaultPriority = null;
  const syncReason = () => {
    reasonLabel.hidden = defaultPriority === null || Number(priority.value) === defaultPriority;
  };
  type.addEventListener('change', () => {
    const opt = type.selectedOptions[0];
    defaultPriority = opt && opt.dataset.priority ? Number(opt.dataset.priority) : null;
    if (defaultPriority !== null) priority.value = String(defaultPriority);
    syncReason();
  });
  priority.addEventListener('change', syncReason);
  form.querySelector('#create-cancel').addEventListener('click', onCancel);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const error = form.querySelector('#create-error');
    if (!type.value) {
      error.textContent = t.choose_type;
      error.hidden = false;
      type.focus();
      return;
    }
    const body = { type: type.value, priority: Number(priority.value) };
    if (!reasonLabel.hidden) body.priority_reason = form.priority_reason.value.trim();
    for (const name of ['address', 'caller_number', 'description']) {
      const value = form[name].value.trim();
      if (value) body[name] = value;
    }
    onSubmit(body, (message) => { error.textContent = message; error.hidden = !message; });
  });
  updateDraft(el, draft, fmt);
  return form;
}

export function updateDraft(el, draft, fmt) {
  const coords = el.querySelector('#draft-coords');
  if (coords && draft) coords.textContent = `${draft.lat.toFixed(5)}, ${draft.lon.toFixed(5)}`;
  const address = el.querySelector('#incident-address');
  if (address && draft && draft.address && !address.dataset.touched) address.value = draft.address;
  if (address && !address.dataset.listening) {
    address.dataset.listening = '1';
    address.addEventListener('input', () => { address.dataset.touched = '1'; });
  }
}

// -- the selected incident ---------------------------------------------------------------
function lifecycleBar(incident, t) {
  const current = incident.status;
  const idx = STEPS.indexOf(current);
  return `<ol class="steps" aria-label="${escapeHtml(t.lifecycle)}">${STEPS.map((s, i) => {
    let cls = 'todo';
    if (current === 'cancelled') cls = i === 0 ? 'done' : 'todo';
    else if (i < idx) cls = 'done';
    else if (i === idx) cls = 'current';
    const at = incident.timestamps[s];
    return `<li class="step ${cls}" data-step="${s}"${at ? ` title="${escapeHtml(at)}"` : ''}>${escapeHtml(t[`status_${s}`])}</li>`;
  }).join('')}</ol>`;
}

function lifecycleButtons(incident, ctx) {
  const { t, config } = ctx;
  if (!config.user.can_dispatch) return '';
  const hasUnits = incident.assignments.some((a) => a.active);
  const next = (config.lifecycle.transitions[incident.status] || [])
    .filter((s) => s !== 'received' || config.user.can_override)
    .filter((s) => s !== 'dispatched' || hasUnits); // the API refuses it without units
  return next.map((s) => {
    const cls = s === 'cancelled' ? 'btn btn-danger-ghost' : 'btn';
    return `<button type="button" class="${cls}" data-transition="${s}">${escapeHtml(t[`to_${s}`] || s)}</button>`;
  }).join('');
}

function planSection(incident, rec, ctx) {
  const { t, fmt } = ctx;
  const plan = incident.type.response_plan || [];
  if (!plan.length) return `<p class="muted">${escapeHtml(t.plan_none)}</p>`;
  const active = incident.assignments.filter((a) => a.active);
  return `<ul class="plan">${plan.map((req) => {
    const cap = ctx.capability(req.capability);
    const have = active.filter((a) => a.capability === req.capability).length;
    const fill = rec && rec.requirements.find((r) => r.capability === req.capability);
    const missing = fill ? fill.missing : 0;
    const state = have >= req.count ? 'met' : (missing > 0 ? 'short' : 'open');
    return `<li class="plan-item ${state}" data-capability="${escapeHtml(req.capability)}"
      title="${state === 'short' ? escapeHtml(t.unfilled) : ''}">
      <span class="plan-count">${escapeHtml(fmt.number(have))}/${escapeHtml(fmt.number(req.count))}</span>
      <span class="plan-name">${escapeHtml(fmt.name(cap))}</span></li>`;
  }).join('')}</ul>`;
}

// Recommended units, every requirement together, fastest first.
// Whether the active assignments already cover every requirement of the plan.
export function planMet(incident) {
  const active = incident.assignments.filter((a) => a.active);
  return (incident.type.response_plan || []).every(
    (req) => active.filter((a) => a.capability === req.capability).length >= req.count);
}

export function flatRecommendations(rec) {
  if (!rec) return [];
  const rows = [];
  for (const req of rec.requirements) {
    for (const unit of req.units) rows.push({ ...unit, capability: req.capability });
  }
  rows.sort((a, b) => (a.eta_s ?? Infinity) - (b.eta_s ?? Infinity));
  return rows.map((row, i) => ({ ...row, color: ROUTE_COLORS[i % ROUTE_COLORS.length] }));
}

// An ETA as shown: a road ETA plainly; a straight-line estimate with "≈" and a flag in
// the user's language (its title says why the roads were not used); none as "–".
function reasonText(reason, t) {
  return (reason && t[`eta_reason_${reason}`]) || '';
}

export function etaHtml(etaS, estimate, ctx) {
  const { t, fmt } = ctx;
  const method = estimate && estimate.method;
  if (method === 'straight_line') {
    const why = reasonText(estimate.reason, t);
    return `<span class="eta-value">≈ ${escapeHtml(fmt.eta(etaS))}</span>
      <span class="eta-flag" data-method="straight_line" data-reason="${escapeHtml(estimate.reason || '')}"
        title="${escapeHtml(why ? `${t.eta_straight_line_title}: ${why}` : t.eta_straight_line_title)}">${escapeHtml(t.eta_straight_line)}</span>`;
  }
  if (method === 'none' || etaS === null || etaS === undefined) {
    const why = reasonText(estimate && estimate.reason, t);
    return `<span class="eta-value">–</span>
      <span class="eta-flag" data-method="none"${why ? ` title="${escapeHtml(why)}"` : ''}>${escapeHtml(t.eta_none)}</span>`;
  }
  return `<span class="eta-value">${escapeHtml(fmt.eta(etaS))}</span>`;
}

function decimal(value, fmt) {
  return Number(value).toLocaleString(fmt.lang === 'ar' ? 'ar-SA' : 'en-GB', { maximumFractionDigits: 2 });
}

// The banner over ETAs that are not road times: what they are and why.
export function estimateBanner(basis, ctx) {
  const { t, fmt } = ctx;
  if (!basis || basis.method !== 'straight_line') return '';
  const template = t[`estimate_flag_${basis.reason}`] || t.estimate_flag_off_network;
  const values = {
    distance: fmt.distance(basis.incident_road_distance_m),
    limit: fmt.distance(basis.snap_limit_m),
    speed: decimal(basis.speed_kph, fmt),
    detour: decimal(basis.detour_factor, fmt),
  };
  const text = template.replace(/\{([a-z]+)\}/g, (_, name) => values[name] ?? '…');
  return `<p class="estimate-flag" role="note" data-method="straight_line"
    data-reason="${escapeHtml(basis.reason || '')}">${escapeHtml(text)}</p>`;
}

function recommendationSection(incident, rec, ctx) {
  const { t, fmt, config } = ctx;
  if (!config.lifecycle.open.includes(incident.status) || planMet(incident)) return '';
  let body;
  if (rec === undefined) body = `<p class="muted loading">${escapeHtml(t.recommending)}</p>`;
  else if (rec === null) body = '';
  else {
    const rows = flatRecommendations(rec);
    if (!rows.length) body = `<p class="muted">${escapeHtml(t.no_recommendation)}</p>`;
    else {
      body = `<table class="rec-table" id="rec-table">
        <thead><tr><th></th><th>${escapeHtml(t.unit)}</th><th>${escapeHtml(t.capability)}</th>
          <th class="num">${escapeHtml(t.eta)}</th><th class="num">${escapeHtml(t.distance)}</th></tr></thead>
        <tbody>${rows.map((r, i) => {
          const agency = ctx.agency(r.agency);
          return `<tr class="rec-row" data-unit-id="${r.unit_id}" data-eta="${r.eta_s}" data-capability="${escapeHtml(r.capability)}">
            <td><input type="checkbox" class="rec-pick" checked aria-label="${escapeHtml(r.call_sign)}"
              ${config.user.can_dispatch ? '' : 'disabled'}></td>
            <td><span class="route-swatch" style="background:${r.color}"></span>
              <span class="rank">${escapeHtml(fmt.number(i + 1))}</span>
              <strong class="call-sign" dir="ltr">${escapeHtml(r.call_sign)}</strong>
              <span class="agency-tag" style="--agency:${escapeHtml(agency.color || '#555')}">${escapeHtml(fmt.name(agency))}</span></td>
            <td class="cap">${escapeHtml(fmt.name(ctx.capability(r.capability)))}</td>
            <td class="num eta" data-method="${escapeHtml((r.estimate && r.estimate.method) || 'road')}">${etaHtml(r.eta_s, r.estimate, ctx)}</td>
            <td class="num dist">${escapeHtml(fmt.distance(r.distance_m))}</td>
          </tr>`;
        }).join('')}</tbody></table>`;
      if (config.user.can_dispatch) {
        body += `<div class="actions"><button type="button" class="btn btn-primary" id="assign-selected">
          ${escapeHtml(t.assign_selected)} <kbd>A</kbd></button></div>`;
      }
    }
    const unfilled = rec.unfilled || [];
    if (unfilled.length) {
      body += `<p class="warn-note">${escapeHtml(t.unfilled)}: ${unfilled.map((u) => `${escapeHtml(fmt.name(ctx.capability(u.capability)))} ×${escapeHtml(fmt.number(u.missing))}`).join('، ')}</p>`;
    }
  }
  const banner = rec ? estimateBanner(rec.estimate, ctx).replace('class="estimate-flag"', 'class="estimate-flag" id="estimate-flag"') : '';
  return `<section class="detail-section" id="recommendations"><h3>${escapeHtml(t.recommended)}</h3>${banner}${body}</section>`;
}

function releaseControl(a, ctx, open) {
  const { t, config, confirmRelease } = ctx;
  if (!open || !config.user.can_dispatch) return '';
  if (confirmRelease === a.id) {
    return `<div class="release-confirm" role="group" aria-label="${escapeHtml(t.release_confirm)}">
      <span>${escapeHtml(t.release_confirm)} <strong dir="ltr">${escapeHtml(a.call_sign)}</strong>?</span>
      <button type="button" class="btn btn-small btn-danger" data-release-confirm="${a.id}">${escapeHtml(t.release_yes)}</button>
      <button type="button" class="btn btn-small" data-release-cancel="${a.id}">${escapeHtml(t.release_no)} <kbd>Esc</kbd></button>
    </div>`;
  }
  return `<button type="button" class="btn btn-small btn-danger-ghost release-btn" data-release="${a.id}"
    aria-label="${escapeHtml(`${t.release} ${a.call_sign}`)}">${escapeHtml(t.release)}</button>`;
}

function assignedSection(incident, ctx) {
  const { t, fmt } = ctx;
  const active = incident.assignments.filter((a) => a.active)
    .sort((a, b) => (a.eta_s ?? Infinity) - (b.eta_s ?? Infinity));
  if (!active.length) {
    return `<section class="detail-section" id="assigned"><h3>${escapeHtml(t.assigned)}</h3>
      <p class="muted">${escapeHtml(t.assigned_none)}</p></section>`;
  }
  const open = ctx.config.lifecycle.open.includes(incident.status);
  return `<section class="detail-section" id="assigned"><h3>${escapeHtml(t.assigned)}</h3>
    <ul class="assigned-list">${active.map((a) => {
      const unit = ctx.units.get(a.unit_id);
      const status = unit ? unit.status : '';
      const agency = ctx.agency(a.agency);
      return `<li class="assigned-item" data-unit-id="${a.unit_id}" data-assignment-id="${a.id}">
        <span class="unit-swatch status-${escapeHtml(status)}"></span>
        <strong class="call-sign" dir="ltr">${escapeHtml(a.call_sign)}</strong>
        <span class="agency-tag" style="--agency:${escapeHtml(agency.color || '#555')}">${escapeHtml(fmt.name(agency))}</span>
        <span class="a-status">${escapeHtml(t[`unit_${status}`] || '')}</span>
        <span class="a-eta" data-method="${escapeHtml((a.estimate && a.estimate.method) || '')}">${escapeHtml(t.eta)} ${etaHtml(a.eta_s, a.estimate, ctx)}</span>
        ${releaseControl(a, ctx, open)}
      </li>`;
    }).join('')}</ul></section>`;
}

// Any available unit, picked by hand ("assign another unit"): a searchable list with
// agency, status and ETA (road, or a flagged straight-line estimate).
function otherRow(u, ctx, recommended) {
  const { t, fmt } = ctx;
  const agency = ctx.agency(u.agency);
  const type = ctx.unitType ? ctx.unitType(u.unit_type) : null;
  const typeName = type ? fmt.name(type) : u.unit_type;
  const status = u.stale ? t.unit_stale : (u.position_source === 'posted' ? t.unit_posted : t[`unit_${u.status}`]);
  const search = [u.call_sign, agency.name_en, agency.name_ar, u.agency, u.unit_type, typeName]
    .filter(Boolean).join(' ').toLowerCase();
  return `<tr class="other-row" data-unit-id="${u.unit_id}" data-search="${escapeHtml(search)}"
      data-method="${escapeHtml(u.estimate.method)}">
    <td><strong class="call-sign" dir="ltr">${escapeHtml(u.call_sign)}</strong>
      ${recommended.has(u.unit_id) ? `<span class="rec-tag">${escapeHtml(t.recommended_tag)}</span>` : ''}
      <div class="muted small">${escapeHtml(typeName)}</div></td>
    <td><span class="agency-tag" style="--agency:${escapeHtml(agency.color || '#555')}">${escapeHtml(fmt.name(agency))}</span></td>
    <td class="o-status${u.stale ? ' stale' : ''}">${escapeHtml(status || u.status)}</td>
    <td class="num eta" data-method="${escapeHtml(u.estimate.method)}">${etaHtml(u.eta_s, u.estimate, ctx)}</td>
    <td><button type="button" class="btn btn-small" data-assign-unit="${u.unit_id}"
      aria-label="${escapeHtml(`${t.assign} ${u.call_sign}`)}">${escapeHtml(t.assign)}</button></td>
  </tr>`;
}

function otherUnitsSection(incident, rec, ctx, others) {
  const { t, config } = ctx;
  if (!config.user.can_dispatch || !config.lifecycle.open.includes(incident.status)) return '';
  if (!others || !others.open) {
    return `<section class="detail-section" id="other-units">
      <button type="button" class="btn" id="assign-other-toggle" aria-expanded="false">${escapeHtml(t.assign_other)}</button></section>`;
  }
  let body;
  if (others.data === undefined) body = `<p class="muted loading">${escapeHtml(t.other_loading)}</p>`;
  else if (others.data === null) body = '';
  else {
    const recommended = new Set(flatRecommendations(rec).map((r) => r.unit_id));
    const units = others.data.units;
    body = `${estimateBanner(others.data.estimate, ctx)}
      <table class="rec-table other-table" id="other-table">
        <thead><tr><th>${escapeHtml(t.unit)}</th><th>${escapeHtml(t.agency)}</th><th>${escapeHtml(t.status)}</th>
          <th class="num">${escapeHtml(t.eta)}</th><th></th></tr></thead>
        <tbody>${units.map((u) => otherRow(u, ctx, recommended)).join('')}</tbody></table>
      <p class="muted" id="other-none"${units.length ? ' hidden' : ''}>${escapeHtml(t.other_none)}</p>`;
  }
  return `<section class="detail-section" id="other-units">
    <div class="section-head"><h3>${escapeHtml(t.assign_other)}</h3>
      <button type="button" class="btn btn-small" id="assign-other-toggle" aria-expanded="true">${escapeHtml(t.close)}</button></div>
    <p class="muted small">${escapeHtml(t.assign_other_hint)}</p>
    <input type="search" id="other-search" class="other-search" dir="auto" autocomplete="off"
      placeholder="${escapeHtml(t.other_search)}" aria-label="${escapeHtml(t.other_search)}"
      aria-controls="other-table" value="${escapeHtml(others.query || '')}">
    ${body}</section>`;
}

// Show only the rows whose text holds every word of the query.
export function filterOtherUnits(el, query) {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  let shown = 0;
  for (const row of el.querySelectorAll('.other-row')) {
    const match = words.every((w) => row.dataset.search.includes(w));
    row.hidden = !match;
    shown += match;
  }
  const none = el.querySelector('#other-none');
  if (none) none.hidden = shown > 0 || !el.querySelector('#other-table');
}

// The supervisor's priority override (the API allows it to the "override" roles only).
function prioritySection(incident, ctx) {
  const { t, config } = ctx;
  if (!config.user.can_override || !config.lifecycle.open.includes(incident.status)) return '';
  return `<section class="detail-section" id="priority-change"><h3>${escapeHtml(t.priority_change)}</h3>
    <form class="priority-form" id="priority-form" novalidate>
      <label>${escapeHtml(t.priority)}
        <select name="priority" id="priority-new">
          ${[1, 2, 3, 4, 5].map((p) => `<option value="${p}"${p === incident.priority ? ' selected' : ''}>${escapeHtml(t[`priority_${p}`])}</option>`).join('')}
        </select>
      </label>
      <label>${escapeHtml(t.priority_change_reason)}
        <input name="reason" id="priority-change-reason" dir="auto" maxlength="500" required>
      </label>
      <p class="form-error" id="priority-error" role="alert" hidden></p>
      <div class="actions"><button type="submit" class="btn" id="priority-submit">${escapeHtml(t.priority_change_submit)}</button></div>
    </form></section>`;
}

function eventText(e, ctx) {
  const { t, fmt } = ctx;
  const d = e.details || {};
  switch (e.kind) {
    case 'created': {
      const type = ctx.incidentType(d.type);
      return `${t.ev_created} · ${fmt.name(type)} · ${t.priority} ${fmt.number(d.priority)}`;
    }
    case 'unit_assigned': {
      const flag = { straight_line: ` (${t.eta_straight_line})`, none: ` (${t.eta_none})` }[d.eta_method] || '';
      const eta = d.eta_method === 'straight_line' ? `≈ ${fmt.eta(d.eta_s)}` : fmt.eta(d.eta_s);
      return `${t.ev_unit_assigned}: ${d.call_sign || ''} · ${t.eta} ${eta}${flag}`;
    }
    case 'unit_released': {
      const unit = ctx.units.get(d.unit_id);
      return `${t.ev_unit_released}: ${d.call_sign || (unit ? unit.call_sign : d.unit_id)}`;
    }
    case 'unit_status':
      return `${d.call_sign || d.unit_id}: ${t[`status_${d.status}`] || d.status}`;
    case 'transition':
    case 'reopen':
      return `${t[`status_${e.from_status}`] || e.from_status} ${ctx.arrow} ${t[`status_${e.to_status}`] || e.to_status}`;
    case 'priority_changed':
      return `${t.ev_priority_changed}: ${fmt.number(d.from)} ${ctx.arrow} ${fmt.number(d.to)}${d.reason ? ` · ${d.reason}` : ''}`;
    default:
      return t[`ev_${e.kind}`] || e.kind;
  }
}

function timelineSection(events, ctx) {
  const { t, fmt } = ctx;
  if (!events) return `<section class="detail-section" id="timeline"><h3>${escapeHtml(t.timeline)}</h3></section>`;
  return `<section class="detail-section" id="timeline"><h3>${escapeHtml(t.timeline)}</h3>
    <ol class="timeline">${events.map((e) => `
      <li class="tl-item kind-${escapeHtml(e.kind)}" data-kind="${escapeHtml(e.kind)}">
        <time datetime="${escapeHtml(e.at)}">${escapeHtml(fmt.shortTime(new Date(e.at)))}</time>
        <span class="tl-text">${escapeHtml(eventText(e, ctx))}</span>
        ${e.actor ? `<span class="tl-actor">${escapeHtml(e.actor)}</span>` : ''}
      </li>`).join('')}</ol></section>`;
}

export function renderIncident(el, incident, ctx, { rec, events, others }) {
  const { t, fmt } = ctx;
  const received = new Date(incident.timestamps.received);
  const jurisdictions = (incident.jurisdictions || []).map((j) => fmt.name(j)).filter(Boolean);
  const govName = fmt.name(incident.governorate);
  const uniqueJ = [...new Set(jurisdictions)].filter((n) => n !== govName);
  el.innerHTML = `
    <div class="incident-detail p${incident.priority}" data-incident-id="${incident.id}" data-status="${incident.status}">
      <div class="detail-head">
        <span class="q-priority big">${escapeHtml(fmt.number(incident.priority))}</span>
        <div class="head-text">
          <h2 id="detail-type">${escapeHtml(fmt.name(incident.type))}</h2>
          <div class="head-sub"><span class="q-number" dir="ltr">${escapeHtml(incident.number)}</span>
            <span class="chip status-${incident.status}" id="detail-status">${escapeHtml(t[`status_${incident.status}`] || incident.status)}</span></div>
        </div>
      </div>
      <dl class="facts">
        <div><dt>${escapeHtml(t.received_at)}</dt><dd class="moment" id="detail-received">
          <span class="m-time">${escapeHtml(fmt.time(received))}</span>
          <span class="m-dates">${escapeHtml(fmt.dates(received).gregorian)}<span class="sep">·</span>${escapeHtml(fmt.dates(received).hijri)}</span></dd></div>
        ${incident.address ? `<div><dt>${escapeHtml(t.address)}</dt><dd dir="auto">${escapeHtml(incident.address)}</dd></div>` : ''}
        ${incident.governorate ? `<div><dt>${escapeHtml(t.governorate)}</dt><dd>${escapeHtml(fmt.name(incident.governorate))}</dd></div>` : ''}
        ${uniqueJ.length ? `<div><dt>${escapeHtml(t.jurisdiction)}</dt><dd>${escapeHtml(uniqueJ.join(' · '))}</dd></div>` : ''}
        ${incident.call_answered_at ? `<div><dt>${escapeHtml(t.call_answered)}</dt><dd id="detail-call-answered">
          <span class="m-time">${escapeHtml(fmt.time(new Date(incident.call_answered_at)))}</span>
          <span class="muted">${escapeHtml(t.call_handling)} ${escapeHtml(fmt.eta(Math.max(0, (received - new Date(incident.call_answered_at)) / 1000)))}</span></dd></div>` : ''}
        ${incident.caller_number ? `<div><dt>${escapeHtml(t.caller)}</dt><dd dir="ltr">${escapeHtml(incident.caller_number)}</dd></div>` : ''}
        ${incident.description ? `<div class="wide"><dt>${escapeHtml(t.description)}</dt><dd dir="auto">${escapeHtml(incident.description)}</dd></div>` : ''}
      </dl>
      <section class="detail-section" id="lifecycle">
        ${lifecycleBar(incident, t)}
        <div class="actions lifecycle-actions">${lifecycleButtons(incident, ctx)}</div>
      </section>
      <section class="detail-section" id="plan"><h3>${escapeHtml(t.response_plan)}</h3>${planSection(incident, rec, ctx)}</section>
      ${recommendationSection(incident, rec, ctx)}
      ${otherUnitsSection(incident, rec, ctx, others)}
      ${assignedSection(incident, ctx)}
      ${prioritySection(incident, ctx)}
      ${timelineSection(events, ctx)}
    </div>`;
}
