// The console's map: a base drawn from the server's vector tiles (municipalities and
// neighbourhoods, roads, street names at close zoom; agency jurisdictions only once turned
// on), incidents, units coloured by status, recommended routes and the draft pin.
// A raster tile layer is an optional extra; nothing here needs the internet.

import { escapeHtml } from './format.js';
import {
  RoadLabels, addJurisdictionOverlays, addRegionSwitcher, boundariesLayer, createBasePanes,
  roadsLayer, vectorTilesAvailable,
} from '../js/basemap.js';

export const ROUTE_COLORS = ['#1c7ed6', '#7048e8', '#0ca678', '#d6336c', '#e8590c', '#5c940d', '#0b7285', '#862e9c'];

function boundsOf(bbox) {
  return bbox ? L.latLngBounds([bbox[1], bbox[0]], [bbox[3], bbox[2]]) : null;
}

export class ConsoleMap {
  constructor(el, { config, t, fmt }) {
    this.el = el;
    this.config = config;
    this.t = t;
    this.fmt = fmt;
    this.rtl = document.documentElement.dir === 'rtl';
    this.unitMarkers = new Map();
    this.incidentMarkers = new Map();
    this.routeLines = new Map();
    this.draft = null;
    this.highlighted = new Set();
    this.selectedIncident = null;
    this.map = L.map(el, { zoomControl: false, minZoom: 5, maxZoom: 19, zoomSnap: 0.5, boxZoom: false });
    L.control.zoom({ position: this.rtl ? 'topleft' : 'topright' }).addTo(this.map);
    L.control.scale({ position: this.rtl ? 'bottomleft' : 'bottomright', imperial: false }).addTo(this.map);
    this.map.attributionControl.setPrefix(false);
    if (t.attribution) this.map.attributionControl.addAttribution(t.attribution);
    createBasePanes(this.map, { boundaries: 300, jurisdictions: 320, roads: 380, labels: 420 });
    for (const [name, z] of [['routes', 430], ['incidents', 620], ['units', 640], ['draft', 660]]) {
      this.map.createPane(name).style.zIndex = z;
    }
    this.layers = L.control.layers(null, null, { position: this.rtl ? 'topright' : 'topleft', collapsed: true }).addTo(this.map);
    this.incidentLayer = L.layerGroup().addTo(this.map);
    this.unitLayer = L.layerGroup().addTo(this.map);
    this.routeLayer = L.layerGroup().addTo(this.map);
    this.map.on('zoomend', () => this.el.classList.toggle('show-labels', this.map.getZoom() >= 16));
  }

  on(event, fn) { this.map.on(event, fn); }

  async drawBase() {
    const { region } = this.config;
    const home = boundsOf(region && region.roads_bbox) || boundsOf(region && region.bbox);
    if (home) this.map.fitBounds(home, { padding: [8, 8] });
    else this.map.setView([24.7136, 46.6753], 12);
    this.el.classList.toggle('show-labels', this.map.getZoom() >= 16);
    this.addTiles();
    if (region) this.drawRegion(region);
    this.layers.addOverlay(this.incidentLayer, this.t.layer_incidents);
    this.layers.addOverlay(this.unitLayer, this.t.layer_units);
    this.layers.addOverlay(this.routeLayer, this.t.layer_routes);
  }

  // Municipalities, roads and street names from the tiles; one switchable overlay per
  // agency's jurisdictions, fetched only when turned on; the region switcher.
  drawRegion(region) {
    const { api } = this.config;
    addRegionSwitcher(this.map, {
      regions: this.config.regions, current: region, label: this.t.region,
      nameOf: (r) => this.fmt.name(r), position: this.rtl ? 'bottomright' : 'bottomleft',
    });
    this.el.dataset.governorates = String(region.counts.governorates);
    if (!vectorTilesAvailable()) { this.el.dataset.tiles = 'missing'; return; }
    const boundaries = boundariesLayer(api, region, { el: this.el }).addTo(this.map);
    this.layers.addOverlay(boundaries, this.t.layer_boundaries);
    this.roads = roadsLayer(api, region, { el: this.el }).addTo(this.map);
    this.layers.addOverlay(this.roads, this.t.layer_roads);
    const labels = new RoadLabels({ url: api.labels, region, lang: this.config.lang, el: this.el }).addTo(this.map);
    this.layers.addOverlay(labels, this.t.layer_labels);
    addJurisdictionOverlays(this.map, this.layers, api, region, {
      el: this.el, name: (agency) => `${this.t.layer_jurisdictions}: ${this.fmt.name(agency)}`,
    });
  }

  addTiles() {
    const { url, attribution } = this.config.tiles || {};
    if (!url) return;
    const tiles = L.tileLayer(url, { attribution, maxZoom: 19 });
    let loaded = 0;
    let failed = 0;
    tiles.on('tileload', () => { loaded += 1; });
    tiles.on('tileerror', () => {
      failed += 1;
      if (failed >= 4 && loaded === 0 && this.map.hasLayer(tiles)) {
        this.map.removeLayer(tiles);
        this.el.dataset.tiles = 'unreachable';
      }
    });
    tiles.addTo(this.map);
    this.layers.addBaseLayer(tiles, this.t.layer_base);
  }

  agency(code) {
    return (this.config.catalogue.agencies || []).find((a) => a.code === code) || { code, name_en: code, name_ar: code };
  }

  // -- units ---------------------------------------------------------------------------
  unitIcon(props, ageS) {
    const stale = Boolean(props.stale);
    const status = props.status || 'available';
    const classes = ['unit-marker', `status-${status}`];
    if (stale) classes.push('stale');
    if (props.position_source === 'station') classes.push('at-station');
    if (this.highlighted.has(props.id)) classes.push('highlight');
    const age = stale ? `<span class="u-age">⏱ ${escapeHtml(this.fmt.age(ageS))}</span>` : '';
    return L.divIcon({
      className: classes.join(' '),
      html: `<span class="u-dot"></span><span class="u-label">${escapeHtml(props.call_sign)}</span>${age}`,
      iconSize: [16, 16], iconAnchor: [8, 8],
    });
  }

  unitTooltip(props, ageS) {
    const agency = this.agency(props.agency);
    const status = this.t[`unit_${props.status}`] || props.status;
    const fix = props.last_fix_at
      ? `${this.t.last_fix}: ${escapeHtml(this.fmt.age(ageS))} ${this.t.ago}`
      : escapeHtml(this.t.unit_posted);
    const stale = props.stale ? `<br><strong class="warn">${escapeHtml(this.t.unit_stale)}</strong>` : '';
    const incident = props.incident ? `<br>${escapeHtml(props.incident.number)}` : '';
    return `<strong>${escapeHtml(props.call_sign)}</strong> · ${escapeHtml(status)}<br>`
      + `${escapeHtml(this.fmt.name(agency))}<br><span class="muted">${fix}</span>${stale}${incident}`;
  }

  setUnits(features) {
    const seen = new Set();
    for (const f of features) {
      if (!f.geometry) continue;
      seen.add(f.properties.id);
      this.upsertUnit(f.properties, f.geometry.coordinates);
    }
    for (const [id, marker] of this.unitMarkers) {
      if (!seen.has(id)) { this.unitLayer.removeLayer(marker); this.unitMarkers.delete(id); }
    }
    this.el.dataset.units = String(this.unitMarkers.size);
  }

  upsertUnit(props, [lon, lat]) {
    const ageS = props.last_fix_at ? (Date.now() - Date.parse(props.last_fix_at)) / 1000 : null;
    let marker = this.unitMarkers.get(props.id);
    if (!marker) {
      marker = L.marker([lat, lon], { pane: 'units', keyboard: false });
      marker.bindTooltip('', { direction: 'top', offset: [0, -8] });
      marker.addTo(this.unitLayer);
      this.unitMarkers.set(props.id, marker);
    } else {
      marker.setLatLng([lat, lon]);
    }
    marker.props = props;
    marker.setIcon(this.unitIcon(props, ageS));
    marker.setTooltipContent(this.unitTooltip(props, ageS));
    const el = marker.getElement();
    if (el) {
      el.dataset.unitId = String(props.id);
      el.dataset.status = props.status;
      el.dataset.stale = String(Boolean(props.stale));
      el.dataset.callSign = props.call_sign;
    }
  }

  // -- incidents -------------------------------------------------------------------------
  incidentIcon(incident, selected) {
    const cls = `incident-marker p${incident.priority} status-${incident.status}${selected ? ' selected' : ''}`;
    return L.divIcon({
      className: cls,
      html: `<span class="pin"><span class="pin-p">${escapeHtml(this.fmt.number(incident.priority))}</span></span>`,
      iconSize: [30, 38], iconAnchor: [15, 36], tooltipAnchor: [0, -34],
    });
  }

  setIncidents(incidents, selectedId, onSelect) {
    const seen = new Set();
    for (const incident of incidents) {
      seen.add(incident.id);
      const selected = incident.id === selectedId;
      let marker = this.incidentMarkers.get(incident.id);
      const latlng = [incident.location.lat, incident.location.lon];
      if (!marker) {
        marker = L.marker(latlng, { pane: 'incidents', riseOnHover: true });
        marker.on('click', (e) => { L.DomEvent.stopPropagation(e); onSelect(marker.incidentId); });
        marker.bindTooltip('', { direction: 'top' });
        marker.addTo(this.incidentLayer);
        this.incidentMarkers.set(incident.id, marker);
      }
      marker.incidentId = incident.id;
      marker.setLatLng(latlng);
      marker.setIcon(this.incidentIcon(incident, selected));
      marker.setZIndexOffset(selected ? 1000 : 0);
      marker.setTooltipContent(`<strong>${escapeHtml(incident.number)}</strong><br>${escapeHtml(this.fmt.name(incident.type))}`);
      const el = marker.getElement();
      if (el) { el.dataset.incidentId = String(incident.id); el.dataset.status = incident.status; }
    }
    for (const [id, marker] of this.incidentMarkers) {
      if (!seen.has(id)) { this.incidentLayer.removeLayer(marker); this.incidentMarkers.delete(id); }
    }
    this.el.dataset.incidents = String(this.incidentMarkers.size);
  }

  focusIncident(incident) {
    const latlng = L.latLng(incident.location.lat, incident.location.lon);
    if (!this.map.getBounds().pad(-0.15).contains(latlng)) this.map.panTo(latlng);
  }

  // -- routes ----------------------------------------------------------------------------
  // ``routes``: [{unit_id, route (GeoJSON LineString), color, kind: 'recommended'|'assigned'}]
  setRoutes(routes, { fit = false } = {}) {
    this.routeLayer.clearLayers();
    this.routeLines.clear();
    const all = [];
    for (const r of routes) {
      if (!r.route || !r.route.coordinates || r.route.coordinates.length < 2) continue;
      const latlngs = r.route.coordinates.map(([x, y]) => [y, x]);
      const casing = L.polyline(latlngs, { pane: 'routes', color: '#ffffff', weight: r.kind === 'assigned' ? 8 : 7, opacity: 0.9, interactive: false });
      const line = L.polyline(latlngs, {
        pane: 'routes', color: r.color, weight: r.kind === 'assigned' ? 5 : 4, opacity: 0.95,
        dashArray: r.kind === 'assigned' ? null : '8 6', lineCap: 'round',
        className: `route-line route-${r.kind} route-unit-${r.unit_id}`,
      });
      casing.addTo(this.routeLayer);
      line.addTo(this.routeLayer);
      this.routeLines.set(r.unit_id, line);
      all.push(...latlngs);
    }
    this.el.dataset.routes = String(this.routeLines.size);
    this.setHighlighted(routes.map((r) => r.unit_id));
    if (fit && all.length) {
      // room for the unit legend along the bottom edge
      this.map.fitBounds(L.latLngBounds(all), { paddingTopLeft: [40, 60], paddingBottomRight: [40, 70], maxZoom: 16 });
    }
  }

  // Units in the selected incident's plan: labelled and ringed at any zoom.
  setHighlighted(ids) {
    const before = this.highlighted;
    this.highlighted = new Set(ids);
    for (const id of new Set([...before, ...this.highlighted])) {
      const marker = this.unitMarkers.get(id);
      if (marker) this.upsertUnit(marker.props, [marker.getLatLng().lng, marker.getLatLng().lat]);
    }
  }

  highlightRoute(unitId, on) {
    const line = this.routeLines.get(unitId);
    if (!line) return;
    line.setStyle({ weight: on ? 7 : 4, opacity: on ? 1 : 0.95 });
    if (on) line.bringToFront();
  }

  // -- the draft of a new incident -------------------------------------------------------
  setDraft(latlng, onMove) {
    if (!this.draft) {
      this.draft = L.marker(latlng, {
        pane: 'draft', draggable: true, autoPan: true,
        icon: L.divIcon({ className: 'draft-marker', html: '<span class="pin"><span class="pin-p">+</span></span>', iconSize: [30, 38], iconAnchor: [15, 36] }),
      }).addTo(this.map);
      this.draft.on('dragend', () => onMove && onMove(this.draft.getLatLng()));
    } else {
      this.draft.setLatLng(latlng);
    }
  }

  clearDraft() {
    if (this.draft) { this.map.removeLayer(this.draft); this.draft = null; }
  }

  flyTo(result) {
    const bounds = boundsOf(result.bbox);
    if (bounds && bounds.isValid() && !bounds.getNorthEast().equals(bounds.getSouthWest())) {
      this.map.flyToBounds(bounds, { maxZoom: 16, duration: 0.6 });
    } else {
      this.map.flyTo([result.lat, result.lon], Math.max(this.map.getZoom(), 16), { duration: 0.6 });
    }
  }
}
