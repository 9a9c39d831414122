// The first map: governorates and roads drawn from the database through the API.
// Works with no tile server at all; a configured tile layer is an optional extra.

import { getJSON } from './api.js';
import { makeFormat } from './format.js';
import {
  GOVERNORATE_HOVER, POPULATION_COLORS, governorateStyle, metresPerPixel,
  populationBreaks, roadClassesForZoom, roadStyle,
} from './styles.js';

const config = JSON.parse(document.getElementById('najda-config').textContent);
const t = JSON.parse(document.getElementById('najda-messages').textContent);
const fmt = makeFormat(config.lang);
const rtl = document.documentElement.dir === 'rtl';
const mapEl = document.getElementById('map');
const noteEl = document.getElementById('map-note');
const ROAD_LIMIT = 5000;

const state = { region: null, governorates: null, roads: null, roadsRequest: null };

function createMap() {
  const map = L.map(mapEl, { zoomControl: false, minZoom: 4, maxZoom: 18, zoomSnap: 0.5 });
  L.control.zoom({ position: rtl ? 'topright' : 'topleft' }).addTo(map);
  L.control.scale({ position: rtl ? 'bottomright' : 'bottomleft', imperial: false }).addTo(map);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(t.attribution);
  map.createPane('governorates').style.zIndex = 350;
  map.createPane('roads').style.zIndex = 420;
  map.on('zoomend', () => mapEl.classList.toggle('zoom-low', map.getZoom() < 7));
  return map;
}

function setNote(text, kind = 'info') {
  noteEl.textContent = text;
  noteEl.dataset.kind = kind;
  noteEl.hidden = !text;
}

function boundsOf(bbox) {
  return bbox ? L.latLngBounds([bbox[1], bbox[0]], [bbox[3], bbox[2]]) : null;
}

// An optional raster base: if its tiles never arrive, it is removed and the data stays.
function addTileLayer(map, layers) {
  if (!config.tiles.url) return;
  const tiles = L.tileLayer(config.tiles.url, { attribution: config.tiles.attribution, maxZoom: 19 });
  let loaded = 0;
  let failed = 0;
  tiles.on('tileload', () => { loaded += 1; });
  tiles.on('tileerror', () => {
    failed += 1;
    if (failed >= 4 && loaded === 0 && map.hasLayer(tiles)) {
      map.removeLayer(tiles);
      mapEl.dataset.tiles = 'unreachable';
      setNote(t.offline_base, 'info');
    }
  });
  tiles.addTo(map);
  layers.addBaseLayer(tiles, t.layer_base);
  mapEl.dataset.tiles = 'requested';
}

function governorateTooltip(props) {
  const area = props.area_km2 ? `<br>${t.area}: ${fmt.number(props.area_km2)} ${t.km2}` : '';
  return `<strong>${escapeHtml(fmt.name(props))}</strong><br>${t.population}: ${fmt.number(props.population)}${area}`;
}

function escapeHtml(text) {
  const div = document.createElement('div');
  div.textContent = text;
  return div.innerHTML;
}

function renderPopulationLegend(breaks) {
  const el = document.getElementById('population-legend');
  const lows = [0, ...breaks];
  el.replaceChildren(...lows.map((low, i) => {
    const item = document.createElement('span');
    item.className = 'ramp-step';
    item.style.background = POPULATION_COLORS[Math.min(i, POPULATION_COLORS.length - 1)];
    item.textContent = `${fmt.compact(low)}+`;
    return item;
  }));
}

function renderGovernorateList(map, layer) {
  const list = document.getElementById('gov-list');
  const items = [];
  layer.eachLayer((polygon) => {
    const props = polygon.feature.properties;
    const li = document.createElement('li');
    li.innerHTML = `<span class="gov-name"></span><span class="gov-pop"></span>`;
    li.querySelector('.gov-name').textContent = fmt.name(props);
    li.querySelector('.gov-pop').textContent = fmt.number(props.population);
    li.tabIndex = 0;
    li.addEventListener('click', () => map.fitBounds(polygon.getBounds(), { padding: [24, 24] }));
    li.addEventListener('mouseenter', () => polygon.setStyle(GOVERNORATE_HOVER));
    li.addEventListener('mouseleave', () => layer.resetStyle(polygon));
    items.push(li);
  });
  list.replaceChildren(...items);
}

async function drawGovernorates(map) {
  const data = await getJSON(config.api.governorates, { region: state.region.code });
  const breaks = populationBreaks(data.features.map((f) => f.properties.population));
  const layer = L.geoJSON(data, {
    style: (feature) => governorateStyle(feature, breaks, map.getZoom()),
    onEachFeature: (feature, polygon) => {
      polygon.bindTooltip(governorateTooltip(feature.properties), { sticky: true, direction: 'top' });
      polygon.on('mouseover', () => { polygon.setStyle(GOVERNORATE_HOVER); polygon.bringToFront(); });
      polygon.on('mouseout', () => layer.resetStyle(polygon));
    },
  }).addTo(map);
  map.on('zoomend', () => layer.setStyle((feature) => governorateStyle(feature, breaks, map.getZoom())));
  addGovernorateLabels(map, data);
  renderPopulationLegend(breaks);
  renderGovernorateList(map, layer);
  const total = data.features.reduce((sum, f) => sum + (f.properties.population || 0), 0);
  document.getElementById('stat-population').textContent = fmt.compact(total);
  mapEl.dataset.governorates = String(data.features.length);
  state.governorates = layer;
  return layer;
}

function addGovernorateLabels(map, data) {
  const labels = L.layerGroup();
  L.geoJSON(data).eachLayer((polygon) => {
    const centre = polygon.getBounds().getCenter();
    L.tooltip({ permanent: true, direction: 'center', className: 'gov-label', interactive: false })
      .setLatLng(centre).setContent(escapeHtml(fmt.name(polygon.feature.properties)))
      .addTo(labels);
  });
  labels.addTo(map);
}

function roadTooltip(props) {
  const name = fmt.name(props) || t.unnamed_road;
  return `<strong>${escapeHtml(name)}</strong><br><span class="muted">${escapeHtml(props.highway)}</span>`;
}

async function refreshRoads(map) {
  if (state.roadsRequest) state.roadsRequest.abort();
  const controller = new AbortController();
  state.roadsRequest = controller;
  const bounds = map.getBounds().pad(0.2);
  const zoom = Math.round(map.getZoom());
  const classes = roadClassesForZoom(zoom);
  const data = await getJSON(config.api.roads, {
    region: state.region.code,
    bbox: [bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()]
      .map((v) => Math.max(-180, Math.min(180, v)).toFixed(5)).join(','),
    classes: classes ? classes.join(',') : '',
    simplify: metresPerPixel(map.getCenter().lat, zoom).toFixed(2),
    limit: ROAD_LIMIT,
  }, { signal: controller.signal });
  state.roads.clearLayers();
  state.roads.addData(data);
  mapEl.dataset.roads = String(data.features.length);
  mapEl.dataset.roadsTruncated = String(Boolean(data.truncated || classes));
  document.getElementById('stat-roads').textContent = fmt.number(state.region.counts.road_edges);
  return data;
}

function stationIcon(color) {
  return L.divIcon({ className: 'station-icon', html: `<span style="background:${color}"></span>`, iconSize: [14, 14] });
}

async function drawStations(map, layers) {
  const data = await getJSON(config.api.stations, { region: state.region.code });
  const cluster = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40 });
  for (const feature of data.features) {
    const [lon, lat] = feature.geometry.coordinates;
    const props = feature.properties;
    const agency = config.lang === 'ar' ? props.agency_name_ar : props.agency_name_en;
    L.marker([lat, lon], { icon: stationIcon(props.agency_color || '#555') })
      .bindTooltip(`<strong>${escapeHtml(fmt.name(props) || props.code)}</strong><br>${escapeHtml(agency || '')}`)
      .addTo(cluster);
  }
  cluster.addTo(map);
  layers.addOverlay(cluster, t.layer_stations);
  mapEl.dataset.stations = String(data.features.length);
}

async function checkHealth() {
  const pill = document.getElementById('db-status');
  try {
    const health = await getJSON(config.health);
    pill.dataset.state = 'ok';
    pill.querySelector('.label').textContent = `${t.db_ok} · ${health.database.schema_revision}`;
  } catch (error) {
    pill.dataset.state = 'down';
    pill.querySelector('.label').textContent = t.db_down;
  }
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

function showRegion(region) {
  document.getElementById('region-name').textContent = fmt.name(region);
  document.getElementById('stat-governorates').textContent = fmt.number(region.counts.governorates);
  document.getElementById('stat-roads').textContent = fmt.number(region.counts.road_edges);
  document.getElementById('stat-stations').textContent = fmt.number(region.counts.stations);
}

async function main() {
  checkHealth();
  const map = createMap();
  const layers = L.control.layers(null, null, { position: rtl ? 'topleft' : 'topright', collapsed: true }).addTo(map);
  addTileLayer(map, layers);
  const wanted = new URLSearchParams(window.location.search).get('region');
  const { regions } = await getJSON(config.api.regions);
  state.region = regions.find((r) => r.code === wanted) || regions[0] || null;
  if (!state.region) {
    map.setView([24.7, 46.7], 6);
    setNote(t.no_region, 'warn');
    mapEl.dataset.state = 'empty';
    return;
  }
  showRegion(state.region);
  const regionBounds = boundsOf(state.region.bbox) || boundsOf(state.region.roads_bbox);
  if (regionBounds) map.fitBounds(regionBounds, { padding: [16, 16] });
  else map.setView([24.7, 46.7], 6);
  const roadsBounds = boundsOf(state.region.roads_bbox);
  document.getElementById('zoom-region').addEventListener('click', () => regionBounds && map.fitBounds(regionBounds));
  document.getElementById('zoom-roads').addEventListener('click', () => roadsBounds && map.fitBounds(roadsBounds));
  document.getElementById('zoom-roads').disabled = !roadsBounds;

  const governorates = await drawGovernorates(map);
  layers.addOverlay(governorates, t.layer_governorates);
  state.roads = L.geoJSON(null, {
    style: roadStyle,
    onEachFeature: (feature, line) => line.bindTooltip(roadTooltip(feature.properties), { sticky: true }),
  }).addTo(map);
  layers.addOverlay(state.roads, t.layer_roads);
  await refreshRoads(map);
  map.on('moveend', debounce(() => refreshRoads(map).catch(reportRoadError), 250));
  await drawStations(map, layers);
  mapEl.dataset.state = 'ready';
  mapEl.classList.toggle('zoom-low', map.getZoom() < 7);
  if (mapEl.dataset.tiles !== 'unreachable') setNote('', 'info');
}

function reportRoadError(error) {
  if (error.name === 'AbortError') return;
  setNote(`${t.load_failed}: ${error.message}`, 'error');
}

main().catch((error) => {
  mapEl.dataset.state = 'error';
  setNote(`${t.load_failed}: ${error.message}`, 'error');
  console.error(error);
});
