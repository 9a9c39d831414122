// The incident queue: open incidents by priority (1 first), then age (oldest first).

import { escapeHtml } from './format.js';

export function queueOrder(a, b) {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const ta = Date.parse(a.timestamps.received || '') || 0;
  const tb = Date.parse(b.timestamps.received || '') || 0;
  if (ta !== tb) return ta - tb;
  return a.id - b.id;
}

export function renderQueue(listEl, incidents, { selectedId, fmt, t, onSelect }) {
  const now = Date.now();
  const items = incidents.map((incident) => {
    const li = document.createElement('li');
    li.className = `queue-item p${incident.priority} status-${incident.status}`;
    if (incident.id === selectedId) li.classList.add('selected');
    li.dataset.incidentId = String(incident.id);
    li.dataset.priority = String(incident.priority);
    li.dataset.status = incident.status;
    li.tabIndex = 0;
    li.setAttribute('role', 'button');
    li.setAttribute('aria-pressed', String(incident.id === selectedId));
    const received = Date.parse(incident.timestamps.received || '');
    const active = incident.assignments.filter((a) => a.active).length;
    const where = incident.address || fmt.name(incident.governorate) || '';
    li.innerHTML = `
      <span class="q-priority" title="${escapeHtml(t.priority)}">${escapeHtml(fmt.number(incident.priority))}</span>
      <span class="q-main">
        <span class="q-line1"><span class="q-type">${escapeHtml(fmt.name(incident.type))}</span>
          <span class="q-age" data-since="${received || ''}">${escapeHtml(fmt.age((now - received) / 1000))}</span></span>
        <span class="q-line2"><span class="q-number" dir="ltr">${escapeHtml(incident.number)}</span>
          <span class="chip status-${incident.status}">${escapeHtml(t[`status_${incident.status}`] || incident.status)}</span>
          ${active ? `<span class="q-units" title="${escapeHtml(t.assigned)}">${escapeHtml(fmt.number(active))} ${escapeHtml(t.units_count)}</span>` : ''}</span>
        ${where ? `<span class="q-where">${escapeHtml(where)}</span>` : ''}
      </span>`;
    li.addEventListener('click', () => onSelect(incident.id));
    li.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect(incident.id); } });
    return li;
  });
  listEl.replaceChildren(...items);
}

// Ages tick every second without re-rendering the list.
export function tickAges(listEl, fmt) {
  const now = Date.now();
  for (const el of listEl.querySelectorAll('.q-age[data-since]')) {
    const since = Number(el.dataset.since);
    if (since) el.textContent = fmt.age((now - since) / 1000);
  }
}
