// The region map: governorates (a population choropleth), roads and street names drawn
// from the server's vector tiles, stations on top. Works with no tile server at all; a
// configured raster tile layer is an optional extra.

import { getJSON } from './api.js';
import {
  RoadLabels, addJurisdictionOverlays, addRegionSwitcher, boundariesLayer, createBasePanes,
  roadsLayer, vectorTilesAvailable,
} from './basemap.js';
import { makeFormat } from './format.js';
import { POPULATION_COLORS, populationBreaks, populationColor } from './styles.js';

const config = JSON.parse(document.getElementById('najda-config').textContent);
const t = JSON.parse(document.getElementById('najda-messages').textContent);
const fmt = makeFormat(config.lang);
const rtl = document.documentElement.dir === 'rtl';
const mapEl = document.getElementById('map');
const noteEl = document.getElementById('map-note');

const state = { region: config.region, governorates: [] };

function createMap() {
  const map = L.map(mapEl, { zoomControl: false, minZoom: 4, maxZoom: 18, zoomSnap: 0.5 });
  L.control.zoom({ position: rtl ? 'topright' : 'topleft' }).addTo(map);
  L.control.scale({ position: rtl ? 'bottomright' : 'bottomleft', imperial: false }).addTo(map);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(t.attribution);
  createBasePanes(map, { boundaries: 350, jurisdictions: 370, roads: 420, labels: 460 });
  map.createPane('govLabels').style.zIndex = 450;
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

function escapeHtml(text) {
  const div = document.createElement('div');
  div.textContent = text;
  return div.innerHTML;
}

function boundsOfFeature(props) {
  return boundsOf(props.bbox);
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

function renderGovernorateList(map, features) {
  const list = document.getElementById('gov-list');
  list.replaceChildren(...features.map((feature) => {
    const props = feature.properties;
    const li = document.createElement('li');
    li.innerHTML = '<span class="gov-name"></span><span class="gov-pop"></span>';
    li.querySelector('.gov-name').textContent = fmt.name(props);
    li.querySelector('.gov-pop').textContent = fmt.number(props.population);
    li.tabIndex = 0;
    li.title = props.area_km2 ? `${t.area}: ${fmt.number(props.area_km2)} ${t.km2}` : '';
    const zoomTo = () => map.fitBounds(boundsOfFeature(props), { padding: [24, 24] });
    li.addEventListener('click', zoomTo);
    li.addEventListener('keydown', (e) => { if (e.key === 'Enter') zoomTo(); });
    return li;
  }));
}

// The polygons come from the boundary tiles (with their population); this light list
// (no geometry) gives the class limits, the side list and the labels.
async function drawGovernorates(map, layers) {
  const data = await getJSON(config.api.governorates, { region: state.region.code, geometry: 'false' });
  const breaks = populationBreaks(data.features.map((f) => f.properties.population));
  const layer = boundariesLayer(config.api, state.region, {
    el: mapEl,
    governorate: (props, zoom) => {
      const close = zoom >= 10;
      return {
        stroke: true, color: close ? '#4f8a9e' : '#ffffff', weight: close ? 2 : 1.4, opacity: 1,
        fill: true, fillColor: populationColor(props.population, breaks), fillOpacity: close ? 0.14 : 0.78,
      };
    },
  }).addTo(map);
  layers.addOverlay(layer, t.layer_governorates);
  const labels = L.layerGroup(data.features.map((f) => L.tooltip({
    permanent: true, direction: 'center', className: 'gov-label', interactive: false, pane: 'govLabels',
  }).setLatLng([f.properties.label_point[1], f.properties.label_point[0]]).setContent(escapeHtml(fmt.name(f.properties)))));
  labels.addTo(map);
  renderPopulationLegend(breaks);
  renderGovernorateList(map, data.features);
  const total = data.features.reduce((sum, f) => sum + (f.properties.population || 0), 0);
  document.getElementById('stat-population').textContent = fmt.compact(total);
  mapEl.dataset.governorates = String(data.features.length);
  state.governorates = data.features;
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

function showRegion(region) {
  document.getElementById('region-name').textContent = fmt.name(region);
  document.getElementById('stat-governorates').textContent = fmt.number(region.counts.governorates);
  document.getElementById('stat-roads').textContent = fmt.number(region.counts.road_edges);
  document.getElementById('stat-stations').textContent = fmt.number(region.counts.stations);
}

async function main() {
  checkHealth();
  const map = createMap();
  window.__najdaMap = map;
  const layers = L.control.layers(null, null, { position: rtl ? 'topleft' : 'topright', collapsed: true }).addTo(map);
  addTileLayer(map, layers);
  if (!state.region) {
    map.setView([24.7, 46.7], 6);
    setNote(t.no_region, 'warn');
    mapEl.dataset.state = 'empty';
    return;
  }
  addRegionSwitcher(map, {
    regions: config.regions, current: state.region, label: t.region, nameOf: (r) => fmt.name(r),
    position: rtl ? 'bottomleft' : 'bottomright',
  });
  showRegion(state.region);
  const regionBounds = boundsOf(state.region.bbox) || boundsOf(state.region.roads_bbox);
  if (regionBounds) map.fitBounds(regionBounds, { padding: [16, 16] });
  else map.setView([24.7, 46.7], 6);
  const roadsBounds = boundsOf(state.region.roads_bbox);
  document.getElementById('zoom-region').addEventListener('click', () => regionBounds && map.fitBounds(regionBounds));
  document.getElementById('zoom-roads').addEventListener('click', () => roadsBounds && map.fitBounds(roadsBounds));
  document.getElementById('zoom-roads').disabled = !roadsBounds;
  if (!vectorTilesAvailable()) {
    mapEl.dataset.state = 'error';
    setNote(t.tiles_missing, 'error');
    return;
  }
  await drawGovernorates(map, layers);
  const roads = roadsLayer(config.api, state.region, { el: mapEl }).addTo(map);
  layers.addOverlay(roads, t.layer_roads);
  const labels = new RoadLabels({ url: config.api.labels, region: state.region, lang: config.lang, el: mapEl }).addTo(map);
  layers.addOverlay(labels, t.layer_labels);
  addJurisdictionOverlays(map, layers, config.api, state.region, {
    el: mapEl, name: (agency) => `${t.layer_jurisdictions}: ${fmt.name(agency)}`,
  });
  await drawStations(map, layers);
  mapEl.dataset.state = 'ready';
  mapEl.classList.toggle('zoom-low', map.getZoom() < 7);
  if (mapEl.dataset.tiles !== 'unreachable') setNote('', 'info');
}

main().catch((error) => {
  mapEl.dataset.state = 'error';
  setNote(`${t.load_failed}: ${error.message}`, 'error');
  console.error(error);
});
