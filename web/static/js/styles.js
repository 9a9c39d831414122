// How the layers look: a population choropleth and roads by class.

export const POPULATION_COLORS = ['#e3eef0', '#b9d6dc', '#84b4c0', '#4f8a9e', '#245f78'];
const NO_DATA = '#e9e6df';

const MAJOR = new Set(['motorway', 'trunk', 'motorway_link', 'trunk_link']);
const ARTERIAL = new Set(['primary', 'secondary', 'primary_link', 'secondary_link']);
const COLLECTOR = new Set(['tertiary', 'tertiary_link', 'unclassified']);

// Quantile class limits over the populations present (at most colors.length classes).
export function populationBreaks(values, classes = POPULATION_COLORS.length) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!sorted.length) return [];
  const limits = [];
  for (let i = 1; i < classes; i += 1) {
    limits.push(sorted[Math.min(sorted.length - 1, Math.floor((i * sorted.length) / classes))]);
  }
  return [...new Set(limits)];
}

export function populationColor(value, breaks) {
  if (!Number.isFinite(value)) return NO_DATA;
  let index = breaks.findIndex((limit) => value < limit);
  if (index === -1) index = breaks.length;
  return POPULATION_COLORS[Math.min(index, POPULATION_COLORS.length - 1)];
}

// Zoomed in, the choropleth fades so the streets on top stay readable.
export function governorateStyle(feature, breaks, zoom) {
  const close = zoom >= 10;
  return {
    pane: 'governorates',
    className: 'najda-gov',
    color: close ? '#4f8a9e' : '#ffffff',
    weight: close ? 2 : 1.4,
    fillColor: populationColor(feature.properties.population, breaks),
    fillOpacity: close ? 0.14 : 0.78,
  };
}

export const GOVERNORATE_HOVER = { color: '#c92a2a', weight: 2.5 };

export function roadStyle(feature) {
  const cls = feature.properties.highway;
  const base = { pane: 'roads', className: 'najda-road', lineCap: 'round', lineJoin: 'round' };
  if (MAJOR.has(cls)) return { ...base, color: '#c2410c', weight: 4, opacity: 0.95 };
  if (ARTERIAL.has(cls)) return { ...base, color: '#e8a33d', weight: 3, opacity: 0.95 };
  if (COLLECTOR.has(cls)) return { ...base, color: '#5c6b7a', weight: 2, opacity: 0.9 };
  return { ...base, color: '#8a96a3', weight: 1.3, opacity: 0.85 };
}

// Which road classes to ask for at a zoom level, so a region-wide view stays light.
export function roadClassesForZoom(zoom) {
  if (zoom < 10) return ['motorway', 'trunk', 'primary'];
  if (zoom < 13) {
    return ['motorway', 'trunk', 'primary', 'secondary', 'tertiary',
      'motorway_link', 'trunk_link', 'primary_link', 'secondary_link'];
  }
  return null; // all classes
}

// Ground metres covered by one screen pixel at a latitude and zoom (Web Mercator).
export function metresPerPixel(lat, zoom) {
  return (40075016.686 * Math.cos((lat * Math.PI) / 180)) / (256 * 2 ** zoom);
}
