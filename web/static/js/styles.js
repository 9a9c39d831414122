// The population choropleth of the map page (roads are styled in basemap.js).

export const POPULATION_COLORS = ['#e3eef0', '#b9d6dc', '#84b4c0', '#4f8a9e', '#245f78'];
const NO_DATA = '#e9e6df';

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
