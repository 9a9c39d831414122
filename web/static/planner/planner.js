// The planner's page: coverage / gaps / heatmap layers, tables and the siting answer,
// all from /api/v1/analytics. The base map (governorates, roads, street names) is drawn
// from the server's vector tiles and the stations from the database, so the page works
// without a tile server.

import {
  RoadLabels, addRegionSwitcher, boundariesLayer, createBasePanes, roadsLayer, vectorTilesAvailable,
} from '../js/basemap.js';

const C = window.NAJDA_PLANNER;
const t = (key) => (C.messages && C.messages[key]) || key;
const rtl = C.lang === 'ar';
const locale = rtl ? 'ar-SA-u-nu-arab' : 'en-GB';
const num = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
const pct = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
const PCT = rtl ? '٪' : '%';
const mapEl = document.getElementById('map');
const legendEl = document.getElementById('legend');

const THRESHOLD_COLOURS = ['#1a9850', '#91cf60', '#fee08b', '#fc8d59', '#d73027', '#7f0000'];
const TIME_STEPS = [60, 120, 180, 240, 360, 480, 720];
const TIME_COLOURS = ['#006837', '#1a9850', '#66bd63', '#d9ef8b', '#fee08b', '#fdae61', '#f46d43', '#a50026'];
const PEOPLE_STEPS = [10, 100, 500, 1000, 5000, 20000];
const PEOPLE_COLOURS = ['#f2f0f7', '#dadaeb', '#bcbddc', '#9e9ac8', '#807dba', '#6a51a3', '#4a1486'];

async function get(url, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const response = await fetch(q.toString() ? `${url}?${q}` : url, { credentials: 'same-origin' });
  const body = await response.json();
  if (!response.ok) {
    // the server's messages are English: in Arabic, the catalogue's word for the code
    const code = body.error && body.error.code;
    const known = code && C.messages && C.messages['error_' + code];
    const message = body.error && body.error.message;
    throw new Error((rtl ? known || message : message || known) || `HTTP ${response.status}`);
  }
  return body;
}

function mmss(s) {
  if (s === null || s === undefined) return '–';
  const m = Math.floor(s / 60);
  const r = Math.round(s - 60 * m);
  const text = `${m}:${String(r).padStart(2, '0')}`;
  return rtl ? text.replace(/\d/g, (d) => '٠١٢٣٤٥٦٧٨٩'[d]) : text;
}

function stepColour(value, steps, colours) {
  if (value === null || value === undefined) return '#4d4d4d';
  let i = 0;
  while (i < steps.length && value > steps[i]) i += 1;
  return colours[i];
}

function escapeHtml(s) {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// -- map ---------------------------------------------------------------------------------
const map = L.map(mapEl, { zoomControl: false, zoomSnap: 0.25, minZoom: 5, maxZoom: 19 });
L.control.zoom({ position: rtl ? 'topleft' : 'topright' }).addTo(map);
L.control.scale({ position: rtl ? 'bottomleft' : 'bottomright', imperial: false }).addTo(map);
map.attributionControl.setPrefix(false);
createBasePanes(map, { boundaries: 250, jurisdictions: 260, roads: 420, labels: 450 });
for (const [name, z] of [['analysis', 350], ['sites', 640]]) {
  map.createPane(name).style.zIndex = z;
}
const region = C.region;
const box = region && (region.roads_bbox || region.bbox);
if (box) map.fitBounds([[box[1], box[0]], [box[3], box[2]]], { padding: [6, 6] });
else map.setView([24.736, 46.651], 14);
if (C.tiles && C.tiles.url) L.tileLayer(C.tiles.url, { attribution: C.tiles.attribution }).addTo(map);

const analysis = L.layerGroup().addTo(map);
const sites = L.layerGroup().addTo(map);
let stationLayer = null;

// Governorates and roads from the vector tiles (drawn over the analysis layer's fill,
// roads above it), street names at close zoom, the stations from the database.
async function drawBase() {
  if (!region) return;
  const name = (r) => (rtl ? (r.name_ar || r.name_en) : (r.name_en || r.name_ar));
  addRegionSwitcher(map, {
    regions: C.regions, current: region, label: t('region'), nameOf: name, position: rtl ? 'bottomright' : 'bottomleft',
  });
  if (vectorTilesAvailable()) {
    boundariesLayer(C.api, region, {
      el: mapEl,
      governorate: () => ({ stroke: true, color: '#52606d', weight: 1.5, opacity: 1, fill: true, fillColor: '#f5f3ee', fillOpacity: 0.6 }),
    }).addTo(map);
    roadsLayer(C.api, region, { el: mapEl }).addTo(map);
    new RoadLabels({ url: C.api.labels, region, lang: C.lang, el: mapEl }).addTo(map);
  }
  const stations = await get(C.api.stations, { region: region.code });
  stationLayer = L.geoJSON(stations, { pane: 'sites',
    pointToLayer: (f, latlng) => L.circleMarker(latlng, { pane: 'sites', radius: 6, color: '#fff', weight: 2,
      fillColor: '#1f2933', fillOpacity: 1 }),
    onEachFeature: (f, layer) => layer.bindTooltip(escapeHtml(name(f.properties))) }).addTo(map);
}

function legend(title, steps, colours, fmt) {
  const rows = colours.map((c, i) => {
    const lo = i === 0 ? null : steps[i - 1];
    const hi = i < steps.length ? steps[i] : null;
    const label = lo === null ? `≤ ${fmt(hi)}` : hi === null ? `> ${fmt(lo)}` : `${fmt(lo)} – ${fmt(hi)}`;
    return `<div><i style="background:${c}"></i>${label}</div>`;
  });
  legendEl.innerHTML = `<strong>${escapeHtml(title)}</strong>${rows.join('')}`;
}

// -- controls ----------------------------------------------------------------------------
// Analysis layers hold thousands of hexagons on a city: one canvas draws them faster
// than thousands of SVG paths.
const cellRenderer = L.canvas({ pane: 'analysis', padding: 0.3 });
const controls = document.getElementById('controls');
const params = () => {
  const f = new FormData(controls);
  return { region: region && region.code, source: f.get('source'), agency: f.get('agency'),
           thresholds: f.get('thresholds'), layer: f.get('layer'), gap: f.get('gap') };
};
const label = (m) => `${m}min`.replace('.', '_');
const share = (v) => (v === null || v === undefined ? '–' : `${pct.format(v)}${PCT}`);
const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => values[k]);
const byLang = (o) => (rtl ? (o.name_ar || o.name_en) : (o.name_en || o.name_ar));

async function drawCoverage(p) {
  const query = { region: p.region, source: p.source, agency: p.agency, thresholds: p.thresholds };
  const wantAreas = p.layer === 'coverage';
  const [summary, areas] = await Promise.all([
    get(C.api.coverage, query),
    wantAreas ? get(C.api.coverage, { ...query, format: 'geojson' }) : null,
  ]);
  renderSummary(summary);
  renderCoverageTable(summary);
  if (!wantAreas) return summary;
  const ts = summary.thresholds_min;
  const colour = (m) => THRESHOLD_COLOURS[ts.indexOf(m)] || '#999';
  analysis.clearLayers();
  L.geoJSON(areas, { pane: 'analysis', renderer: cellRenderer,
    style: (f) => ({ color: colour(f.properties.threshold_min), weight: 1, fillColor: colour(f.properties.threshold_min), fillOpacity: 0.55 }) })
    .addTo(analysis);
  legendEl.innerHTML = `<strong>${escapeHtml(t('layer_coverage'))}</strong>` +
    ts.map((m) => `<div><i style="background:${colour(m)}"></i>≤ ${num.format(m)} ${escapeHtml(t('legend_minutes'))}</div>`).join('');
  mapEl.dataset.features = String(areas.features.length);
  return summary;
}

async function drawCells(p) {
  let data;
  if (p.layer === 'gaps') {
    data = await get(C.api.gaps, { region: p.region, source: p.source, agency: p.agency, threshold: p.gap, format: 'geojson' });
    legend(`${t('layer_gaps')} (> ${p.gap} ${t('legend_minutes')})`, PEOPLE_STEPS, PEOPLE_COLOURS, (v) => num.format(v));
  } else {
    const kind = p.layer === 'heatmap' ? 'modelled' : 'measured';
    data = await get(C.api.heatmap, { region: p.region, kind, source: p.source, agency: p.agency, format: 'geojson' });
    legend(t(p.layer === 'heatmap' ? 'layer_heatmap' : 'layer_measured'), TIME_STEPS, TIME_COLOURS, mmss);
  }
  analysis.clearLayers();
  L.geoJSON(data, { pane: 'analysis', renderer: cellRenderer,
    style: (f) => {
      const v = p.layer === 'gaps' ? f.properties.population : f.properties.time_s;
      const c = p.layer === 'gaps' ? stepColour(v, PEOPLE_STEPS, PEOPLE_COLOURS) : stepColour(v, TIME_STEPS, TIME_COLOURS);
      return { color: '#ffffff', weight: 0.6, fillColor: c, fillOpacity: 0.78 };
    },
    onEachFeature: (f, layer) => {
      const pr = f.properties;
      const bits = [pr.time_s !== undefined ? `${mmss(pr.time_s)}` : '', pr.population !== undefined ? `${num.format(pr.population)} ${t('legend_people')}` : '',
        pr.incidents !== undefined ? `${num.format(pr.incidents)} ${t('incidents')}` : ''].filter(Boolean);
      layer.bindTooltip(bits.join(' · '));
    } }).addTo(analysis);
  mapEl.dataset.features = String(data.features.length);
}

// Every share is printed with what it is a share of: the people the population layer
// places in cells (the main figure), people near a road, the governorates' census total.
function renderSummary(s) {
  const tot = s.totals;
  const lines = s.thresholds_min.map((m) => {
    const k = label(m);
    return `<div class="pl-big"><span>≤ ${num.format(m)} ${escapeHtml(t('legend_minutes'))}</span><b data-pct-placed="${tot['pct_placed_' + k] ?? ''}">${share(tot['pct_placed_' + k])}</b><small>${num.format(tot['covered_' + k])} / ${num.format(tot.placed)}</small></div>`;
  });
  const last = label(s.thresholds_min[s.thresholds_min.length - 1]);
  document.getElementById('summary').innerHTML = `<p class="pl-denominator">${escapeHtml(t('denom_placed'))}</p>` + lines.join('') +
    `<p class="pl-note">${escapeHtml(fill(t('placed_of_population'), { placed: num.format(tot.placed), population: num.format(tot.population), unplaced: num.format(tot.unplaced) }))}</p>` +
    `<p class="pl-note">${escapeHtml(t('on_network'))}: ${num.format(tot.on_network)} · ≤ ${num.format(s.thresholds_min[s.thresholds_min.length - 1])}′ ${share(tot['pct_on_network_' + last])} ${escapeHtml(t('denom_on_network_short'))} · ${share(tot['pct_' + last])} ${escapeHtml(t('denom_population_short'))}</p>` +
    `<p class="pl-note">${num.format(s.sources_used.length)} ${escapeHtml(t('stations_used'))}</p>`;
}

function renderCoverageTable(s) {
  const ts = s.thresholds_min;
  const rows = [...s.governorates].sort((a, b) => (b.placed - a.placed) || (b.population - a.population)).slice(0, 10);
  const head = `<tr><th>${t('governorate')}</th><th>${t('population')}</th><th>${t('placed')}</th><th>${t('on_network')}</th>${ts.map((m) => `<th>≤ ${num.format(m)}′</th>`).join('')}</tr>`;
  const line = (r, name) => {
    const how = r.placement && r.placement !== 'localities' ? ` <small class="pl-how">(${escapeHtml(t('placement_' + r.placement))})</small>` : '';
    return `<tr><td>${escapeHtml(name)}${how}</td><td>${num.format(r.population)}</td><td>${num.format(r.placed)}</td><td>${num.format(r.on_network)}</td>${ts.map((m) => `<td>${share(r['pct_placed_' + label(m)])}</td>`).join('')}</tr>`;
  };
  document.getElementById('coverage-table').innerHTML = `<p class="pl-denominator">${escapeHtml(t('table_denominator'))}</p>` +
    `<table>${head}${rows.map((r) => line(r, rtl ? r.name_ar : r.name_en)).join('')}${line(s.totals, t('total'))}</table>`;
}

async function drawKpis() {
  const by = document.getElementById('kpi-by').value;
  const target = document.getElementById('target-travel').value;
  const k = await get(C.api.kpis, { region: region && region.code, by, target_travel: target });
  const stages = k.stages;
  const head = `<tr><th>${t('by_' + by)}</th><th>${t('incidents')}</th>${stages.map((s) => `<th>${t('stage_' + s)}</th>`).join('')}<th>≤ ${num.format(target)} s</th></tr>`;
  const agencyName = (v) => { const a = (C.agencies || []).find((x) => x.code === v); return a ? byLang(a) : t('agency_' + v); };
  const labelOf = (v) => (by === 'agency' ? agencyName(v) : v);
  const body = k.rows.map((r) => `<tr><td>${escapeHtml(labelOf(r[by]))}</td><td>${num.format(r.incidents)}</td>${stages.map((s) => `<td>${mmss(r[s + '_p50'])} / <b>${mmss(r[s + '_p90'])}</b></td>`).join('')}<td>${r.travel_within === null || r.travel_within === undefined ? '–' : pct.format(100 * r.travel_within) + PCT}</td></tr>`).join('');
  document.getElementById('kpi-table').innerHTML = `<table>${head}${body}</table>`;
  document.getElementById('standards').innerHTML = k.standards.map((s) => {
    const state = s.meets === null ? 'none' : s.meets ? 'ok' : 'bad';
    const word = s.meets === null ? t('no_data') : s.meets ? t('meets') : t('misses');
    return `<span class="pl-std pl-std-${state}">${escapeHtml(rtl ? s.name_ar : s.name_en)}: p90 ${mmss(s.p90_s)} — ${escapeHtml(word)}</span>`;
  }).join('');
}

// -- siting ------------------------------------------------------------------------------
function siteMarker(site) {
  const icon = L.divIcon({ className: 'pl-new-site', html: `<span>${num.format(site.rank)}</span>`, iconSize: [30, 30] });
  const text = `${fill(t('proposed_n'), { n: num.format(site.rank) })}: +${num.format(site.gain)} ${t('legend_people')}`;
  return L.marker([site.lat, site.lon], { pane: 'sites', icon, title: text, keyboard: false }).bindTooltip(escapeHtml(text));
}

function renderSiting(answer) {
  const requested = answer.requested;
  const fewer = requested !== null && requested !== undefined && answer.added < requested;
  const list = answer.new_sites.map((s) => `<li data-gain="${s.gain}"><b>${escapeHtml(fill(t('proposed_n'), { n: num.format(s.rank) }))}</b> +${num.format(s.gain)} ${escapeHtml(t('legend_people'))}</li>`).join('');
  const r = answer.reduction;
  return `<p class="pl-denominator">${escapeHtml(t('denom_placed'))}</p>` +
    `<div class="pl-big"><span>${t('before')}</span><b>${share(answer.pct_placed_before)}</b><small>${num.format(answer.covered_before)}</small></div>` +
    `<div class="pl-big"><span>${t('after')}</span><b>${share(answer.pct_placed_after)}</b><small>${num.format(answer.covered_after)}</small></div>` +
    `<p class="pl-note">${t('gain')}: +${num.format(answer.gain)} ${escapeHtml(t('legend_people'))} · ${t('new_sites')}: ${num.format(answer.added)}</p>` +
    (fewer ? `<p class="pl-warn" id="siting-fewer">${escapeHtml(fill(t('siting_fewer'), { added: num.format(answer.added), requested: num.format(requested) }))}</p>` : '') +
    `<ol class="pl-sites" id="siting-sites">${list}</ol>` +
    `<p class="pl-note">${escapeHtml(fill(t('siting_reduced'), { candidates: num.format(r.candidates), solved: num.format(r.solved_on) }))} · ${escapeHtml(t(answer.exact ? 'siting_exact' : 'siting_pool'))}</p>` +
    (answer.candidate_resolution ? `<p class="pl-note">${escapeHtml(fill(t('siting_coarse'), { res: num.format(answer.candidate_resolution) }))}</p>` : '') +
    `<p class="pl-note">${t('on_network')}: ${share(answer.pct_on_network_before)} → ${share(answer.pct_on_network_after)} ${escapeHtml(t('denom_on_network_short'))}</p>`;
}

async function solveSiting(ev) {
  if (ev) ev.preventDefault();
  const form = document.getElementById('siting');
  const f = new FormData(form);
  const p = params();
  const query = { region: p.region, agency: p.agency, model: f.get('model'), add: f.get('add'), threshold: f.get('threshold') };
  const out = document.getElementById('siting-result');
  const button = form.querySelector('button');
  out.textContent = t('solving');
  mapEl.dataset.siting = 'loading';
  button.disabled = true;
  try {
    // the JSON answer first: the server keeps it, so the GeoJSON of the same question
    // is not solved a second time
    const answer = await get(C.api.siting, query);
    const geo = await get(C.api.siting, { ...query, format: 'geojson' });
    sites.clearLayers();
    const stateColour = { gained: '#2f9e44', covered: '#74c0fc', uncovered: '#e03131' };
    L.geoJSON(geo, { pane: 'sites', renderer: L.canvas({ pane: 'sites' }),
      filter: (feature) => feature.geometry.type !== 'Point',
      style: (feature) => ({ color: stateColour[feature.properties.state] || '#999', weight: 1, fillOpacity: 0.25 }),
      onEachFeature: (feature, layer) => layer.bindTooltip(`${escapeHtml(t('state_' + feature.properties.state))} · ${num.format(feature.properties.population)} ${escapeHtml(t('legend_people'))}`) }).addTo(sites);
    answer.new_sites.forEach((site) => siteMarker(site).addTo(sites));
    out.innerHTML = renderSiting(answer);
    mapEl.dataset.siting = String(answer.added);
  } catch (err) {
    out.innerHTML = `<p class="pl-warn">${escapeHtml(err.message)}</p>`;
    mapEl.dataset.siting = 'error';
  } finally {
    button.disabled = false;
  }
}

function renderDownloads() {
  const p = params();
  const base = { region: p.region, source: p.source, agency: p.agency };
  const link = (url, extra, name) => `<a href="${url}?${new URLSearchParams(Object.entries({ ...base, ...extra }).filter(([, v]) => v))}" download>${name}</a>`;
  const siting = document.getElementById('siting');
  const s = new FormData(siting);
  const question = { model: s.get('model'), add: s.get('add'), threshold: s.get('threshold') };
  document.getElementById('downloads').innerHTML = `<h2>${t('downloads')}</h2>` + [
    link(C.api.coverage, { format: 'csv' }, 'coverage.csv'), link(C.api.coverage, { format: 'geojson', download: 1 }, 'coverage.geojson'),
    link(C.api.gaps, { format: 'csv', threshold: p.gap }, 'gaps.csv'), link(C.api.gaps, { format: 'geojson', threshold: p.gap, download: 1 }, 'gaps.geojson'),
    link(C.api.heatmap, { format: 'csv' }, 'heatmap.csv'), link(C.api.heatmap, { format: 'geojson', download: 1 }, 'heatmap.geojson'),
    link(C.api.kpis, { format: 'csv', by: document.getElementById('kpi-by').value }, 'kpis.csv'),
    link(C.api.siting, { format: 'csv', ...question }, 'siting.csv'), link(C.api.siting, { format: 'geojson', ...question, download: 1 }, 'siting.geojson'),
  ].join(' ');
}

async function refresh(ev) {
  if (ev) ev.preventDefault();
  const p = params();
  mapEl.dataset.state = 'loading';
  if (p.layer !== 'coverage') sites.clearLayers();  // the siting answer belongs to coverage
  try {
    await drawCoverage(p);
    if (p.layer !== 'coverage') await drawCells(p);
    mapEl.dataset.layer = p.layer;
    renderDownloads();
    mapEl.dataset.state = 'ready';
  } catch (err) {
    mapEl.dataset.state = 'error';
    document.getElementById('summary').textContent = err.message;
  }
}

controls.addEventListener('submit', refresh);
controls.addEventListener('change', (ev) => { if (ev.target.name === 'layer') refresh(); });
document.getElementById('siting').addEventListener('submit', solveSiting);
document.getElementById('siting').addEventListener('change', renderDownloads);
document.getElementById('kpi-by').addEventListener('change', drawKpis);
document.getElementById('target-travel').addEventListener('change', drawKpis);
window.najdaPlanner = { refresh, solveSiting, drawKpis, map };

drawBase().then(() => Promise.all([refresh(), drawKpis()])).catch((err) => {
  mapEl.dataset.state = 'error';
  document.getElementById('summary').textContent = err.message;
});
