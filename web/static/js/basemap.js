// The base map every page shares: roads, boundaries and (on request) jurisdictions drawn
// from the server's vector tiles by Leaflet.VectorGrid on canvas, street names at close
// zoom, and the region switcher. Nothing here needs the internet or ships megabytes: a
// tile holds only what its zoom shows (see najda/web/tile_queries.py).
//
// The tile layers are not interactive: Leaflet.VectorGrid 1.3's pointer handling calls
// L.DomEvent.fakeStop, which Leaflet >= 1.8 no longer has (VectorGrid issue #274).

const ROAD_COLORS = {
  major: '#c2410c', arterial: '#e8a33d', collector: '#7b8794', local: '#a3acb6', service: '#c3c9d0',
};
const ROAD_GROUPS = {
  motorway: 'major', trunk: 'major', motorway_link: 'major', trunk_link: 'major',
  primary: 'arterial', secondary: 'arterial', primary_link: 'arterial', secondary_link: 'arterial',
  tertiary: 'collector', tertiary_link: 'collector', unclassified: 'collector',
  residential: 'local', living_street: 'local', road: 'local',
};
// Stroke width (px) at z12 per group; it grows by half with every zoom step beyond.
const ROAD_WIDTH = { major: 2.6, arterial: 2, collector: 1.3, local: 0.9, service: 0.7 };
const LABEL_CLASS_RANK = ['motorway', 'trunk', 'primary', 'secondary', 'tertiary'];
export const LABEL_MIN_ZOOM = 16;
const LABEL_TILE_MAX_ZOOM = 17;

export function vectorTilesAvailable() {
  return typeof L !== 'undefined' && Boolean(L.vectorGrid && L.vectorGrid.protobuf);
}

export function roadGroup(cls) {
  return ROAD_GROUPS[cls] || 'service';
}

export function roadStyleAt(cls, zoom) {
  const group = roadGroup(cls);
  const grow = Math.max(0.6, Math.min(6, 1.5 ** (zoom - 12)));
  const link = cls && cls.endsWith('_link') ? 0.7 : 1;
  return {
    stroke: true, color: ROAD_COLORS[group], weight: ROAD_WIDTH[group] * grow * link,
    opacity: group === 'major' || group === 'arterial' ? 0.95 : 0.9, lineCap: 'round', lineJoin: 'round',
  };
}

function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') q.set(key, value);
  }
  return q.toString();
}

// The URL template of one tile layer of a region (the version lets the browser keep tiles).
export function tileUrl(api, layer, region, extra = {}) {
  const base = api.tiles.replace('{layer}', layer);
  return `${base}?${query({ region: region.code, v: region.map_version, ...extra })}`;
}

// Counts tiles as they arrive, on the map element, and says whether every tile of the view
// is in (``data-road-tiles-state="loaded"``): the tests wait on it before a screenshot.
function countTiles(layer, el, name) {
  layer.on('loading', () => { el.dataset[`${name}State`] = 'loading'; });
  layer.on('load', () => { el.dataset[`${name}State`] = 'loaded'; });
  layer.on('tileload', () => { el.dataset[name] = String(Number(el.dataset[name] || 0) + 1); });
  layer.on('tileerror', () => { el.dataset[`${name}Errors`] = String(Number(el.dataset[`${name}Errors`] || 0) + 1); });
  return layer;
}

function vectorLayer(url, styles, { pane, el, counter, maxZoom = 20 }) {
  const layer = L.vectorGrid.protobuf(url, {
    rendererFactory: L.canvas.tile,
    vectorTileLayerStyles: styles,
    interactive: false,
    pane,
    maxZoom,
    updateWhenZooming: false,
    keepBuffer: 1,
    fetchOptions: { credentials: 'same-origin' },
  });
  return countTiles(layer, el, counter);
}

export function roadsLayer(api, region, { pane = 'roads', el }) {
  return vectorLayer(tileUrl(api, 'roads', region), {
    roads: (props, zoom) => roadStyleAt(props.class, zoom),
  }, { pane, el, counter: 'roadTiles' });
}

// Governorates (municipalities) and places (neighbourhoods, zones) in one tile.
export function boundariesLayer(api, region, { pane = 'boundaries', el, governorate, place }) {
  // zones (a municipality's large divisions) drawn firmer than the neighbourhoods inside them
  const placeStyle = place || ((props, zoom) => (props.kind === 'zone'
    ? { stroke: true, color: '#6b7785', weight: zoom >= 14 ? 1.4 : 1.1, opacity: 0.75, dashArray: '8 4', fill: false }
    : { stroke: true, color: '#8794a1', weight: zoom >= 14 ? 1 : 0.7, opacity: 0.7, dashArray: '3 3', fill: false }));
  // The land a light sand, so that the sea and the desert beyond the region stay darker.
  const govStyle = governorate || ((props, zoom) => ({
    stroke: true, color: '#7b8794', weight: zoom >= 12 ? 1.6 : 1.2, opacity: 0.8, dashArray: '6 4',
    fill: true, fillColor: '#fbfaf6', fillOpacity: 0.85,
  }));
  return vectorLayer(tileUrl(api, 'boundaries', region), {
    governorates: govStyle, places: placeStyle,
  }, { pane, el, counter: 'boundaryTiles' });
}

// One agency's jurisdictions: made when the user turns them on, never before.
export function jurisdictionsLayer(api, region, agency, { pane = 'jurisdictions', el }) {
  return vectorLayer(tileUrl(api, 'jurisdictions', region, { agency: agency.code }), {
    jurisdictions: (props) => ({
      stroke: true, color: props.color || agency.color || '#555', weight: 2.2, opacity: 0.85,
      fill: true, fillColor: props.color || agency.color || '#555', fillOpacity: 0.06,
    }),
  }, { pane, el, counter: 'jurisdictionTiles' });
}

// Adds one overlay per agency with jurisdictions in the region; a layer is only created
// (and its tiles only fetched) when its checkbox is first ticked.
export function addJurisdictionOverlays(map, control, api, region, { name, pane, el }) {
  for (const agency of region.jurisdiction_agencies || []) {
    const holder = L.layerGroup();
    holder.on('add', () => {
      if (!holder.getLayers().length) holder.addLayer(jurisdictionsLayer(api, region, agency, { pane, el }));
    });
    control.addOverlay(holder, name(agency));
  }
}

// -- street names ------------------------------------------------------------------------
function lonToTile(lon, z) { return Math.floor(((lon + 180) / 360) * 2 ** z); }
function latToTile(lat, z) {
  const rad = (Math.max(-85, Math.min(85, lat)) * Math.PI) / 180;
  return Math.floor(((1 - Math.asinh(Math.tan(rad)) / Math.PI) / 2) * 2 ** z);
}

function escapeText(text) {
  const div = document.createElement('div');
  div.textContent = text;
  return div.innerHTML;
}

// The screen box of a label rotated by ``angle`` degrees around its centre.
function labelBox(point, widthPx, heightPx, angle) {
  const a = (angle * Math.PI) / 180;
  const w = Math.abs(widthPx * Math.cos(a)) + Math.abs(heightPx * Math.sin(a));
  const h = Math.abs(widthPx * Math.sin(a)) + Math.abs(heightPx * Math.cos(a));
  return { x0: point.x - w / 2, x1: point.x + w / 2, y0: point.y - h / 2, y1: point.y + h / 2 };
}

const overlaps = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;

// Street names written along the roads from LABEL_MIN_ZOOM: fetched per tile, then placed
// most important first, leaving out any that would overlap one already placed.
export const RoadLabels = L.Layer.extend({
  initialize(options) {
    L.setOptions(this, { pane: 'labels', minZoom: LABEL_MIN_ZOOM, maxLabels: 90, ...options });
    this._tiles = new Map();
  },

  onAdd(map) {
    this._group = L.layerGroup().addTo(map);
    map.on('moveend', this._update, this);
    this._update();
  },

  onRemove(map) {
    map.off('moveend', this._update, this);
    map.removeLayer(this._group);
    this._count(0);
  },

  _count(n) { if (this.options.el) this.options.el.dataset.labels = String(n); },

  _text(label) {
    const { lang } = this.options;
    return lang === 'ar' ? (label.name_ar || label.name_en) : (label.name_en || label.name_ar);
  },

  _fetch(z, x, y) {
    const key = `${z}/${x}/${y}`;
    if (!this._tiles.has(key)) {
      if (this._tiles.size > 400) this._tiles.delete(this._tiles.keys().next().value);
      const url = `${this.options.url.replace('{z}', z).replace('{x}', x).replace('{y}', y)}?${query({ region: this.options.region.code, v: this.options.region.map_version })}`;
      this._tiles.set(key, fetch(url, { credentials: 'same-origin' })
        .then((r) => (r.ok ? r.json() : { labels: [] }))
        .then((body) => body.labels.map((l) => ({ ...l, tileZoom: z })))
        .catch(() => []));
    }
    return this._tiles.get(key);
  },

  async _update() {
    const map = this._map;
    if (!map) return;
    const zoom = map.getZoom();
    if (zoom < this.options.minZoom) { this._group.clearLayers(); this._count(0); return; }
    const z = Math.min(Math.floor(zoom), LABEL_TILE_MAX_ZOOM);
    const b = map.getBounds();
    const jobs = [];
    for (let x = lonToTile(b.getWest(), z); x <= lonToTile(b.getEast(), z); x += 1) {
      for (let y = latToTile(b.getNorth(), z); y <= latToTile(b.getSouth(), z); y += 1) jobs.push(this._fetch(z, x, y));
    }
    const labels = (await Promise.all(jobs)).flat();
    if (this._map !== map || map.getZoom() !== zoom) return; // a newer update follows
    this._place(labels, zoom);
  },

  _place(labels, zoom) {
    const map = this._map;
    const size = map.getSize();
    const rank = (l) => {
      const i = LABEL_CLASS_RANK.indexOf(l.class);
      return i === -1 ? LABEL_CLASS_RANK.length : i;
    };
    const sorted = labels.filter((l) => this._text(l))
      .sort((a, b) => rank(a) - rank(b) || b.length_px - a.length_px);
    const placed = [];
    const markers = [];
    for (const label of sorted) {
      if (markers.length >= this.options.maxLabels) break;
      const text = this._text(label);
      const point = map.latLngToContainerPoint([label.lonlat[1], label.lonlat[0]]);
      const major = rank(label) < 3;
      const fontPx = major ? 12 : 11;
      const width = text.length * fontPx * (/[\u0600-\u06FF]/.test(text) ? 0.5 : 0.58) + 6;
      const roadPx = label.length_px * 2 ** (zoom - label.tileZoom);
      if (width > roadPx * 1.1) continue; // longer than its stretch of road
      const box = labelBox(point, width, fontPx + 6, label.angle);
      if (box.x0 < 0 || box.y0 < 0 || box.x1 > size.x || box.y1 > size.y) continue; // cut by the edge
      const sameName = placed.some((p) => p.text === text && Math.hypot(p.point.x - point.x, p.point.y - point.y) < 260);
      if (sameName || placed.some((p) => overlaps(p.box, box))) continue;
      placed.push({ box, text, point });
      markers.push(L.marker([label.lonlat[1], label.lonlat[0]], {
        pane: this.options.pane, interactive: false, keyboard: false,
        icon: L.divIcon({
          className: `road-label${major ? ' road-label-major' : ''}`, iconSize: [0, 0],
          html: `<span dir="auto" style="transform: translate(-50%, -50%) rotate(${label.angle}deg)">${escapeText(text)}</span>`,
        }),
      }));
    }
    this._group.clearLayers();
    for (const m of markers) this._group.addLayer(m);
    this._count(markers.length);
  },
});

// -- region switcher ---------------------------------------------------------------------
// Shown only when the database holds several regions; choosing one reloads the page with
// ?region=CODE (the language and other parameters are kept).
export function addRegionSwitcher(map, { regions, current, label, nameOf, position }) {
  if (!regions || regions.length < 2) return null;
  const Switcher = L.Control.extend({
    onAdd() {
      const box = L.DomUtil.create('label', 'leaflet-bar region-switcher');
      const caption = L.DomUtil.create('span', 'region-switcher-label', box);
      caption.textContent = label;
      const select = L.DomUtil.create('select', '', box);
      select.id = 'region-select';
      for (const region of regions) {
        const option = L.DomUtil.create('option', '', select);
        option.value = region.code;
        option.textContent = nameOf(region);
        option.selected = region.code === current.code;
      }
      select.addEventListener('change', () => {
        const url = new URL(window.location.href);
        url.searchParams.set('region', select.value);
        window.location.assign(url.toString());
      });
      L.DomEvent.disableClickPropagation(box);
      return box;
    },
  });
  return new Switcher({ position }).addTo(map);
}

// The panes of the base map, below anything a page draws on top.
export function createBasePanes(map, { boundaries = 300, jurisdictions = 320, roads = 380, labels = 450 } = {}) {
  for (const [name, z] of [['boundaries', boundaries], ['jurisdictions', jurisdictions], ['roads', roads], ['labels', labels]]) {
    const pane = map.getPane(name) || map.createPane(name);
    pane.style.zIndex = z;
    if (name === 'labels') pane.style.pointerEvents = 'none';
  }
}
