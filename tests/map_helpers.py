"""What the browser tests ask of the base map: whether the vector tiles of a pane were
drawn (canvas pixels that are not transparent), and the bytes a page load moved."""

from __future__ import annotations

from typing import Any

WAIT = 30_000

# Painted (non-transparent) pixels of every canvas tile in a map pane, sampling one
# pixel in seven: enough to tell drawn from blank without reading every pixel.
_PAINTED = """(pane) => {
  let painted = 0;
  for (const canvas of document.querySelectorAll(`.leaflet-${pane}-pane canvas`)) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 3; i < data.length; i += 28) if (data[i] > 0) painted += 1;
  }
  return painted;
}"""


def painted(page: Any, pane: str) -> int:
    """Sampled painted pixels of the canvases in ``pane`` (roads, boundaries ...)."""
    count: int = page.evaluate(_PAINTED, pane)
    return count


def wait_painted(page: Any, pane: str, at_least: int = 200) -> int:
    """Wait until the tiles of ``pane`` have painted ``at_least`` sampled pixels."""
    page.wait_for_function(f"({_PAINTED})({pane!r}) >= {at_least}", timeout=WAIT)
    return painted(page, pane)


def wait_tiles(page: Any, name: str, at_least: int = 1) -> int:
    """Wait until ``at_least`` tiles counted as ``data-<name>`` on the map have loaded."""
    page.wait_for_function(
        f"Number(document.getElementById('map').getAttribute('data-{name}') || 0) >= {at_least}",
        timeout=WAIT,
    )
    return int(page.get_attribute("#map", f"data-{name}") or 0)


def wait_loaded(page: Any, *names: str) -> None:
    """Wait until every tile of the view has arrived for each layer counted as ``names``
    (``road-tiles``, ``boundary-tiles`` ...), after any move or zoom."""
    for name in names:
        page.wait_for_selector(f"#map[data-{name}-state='loaded']", timeout=WAIT)
    # and the tiles of the zoom before are gone (Leaflet prunes them a moment later; under
    # transparent vector tiles they would show through, scaled)
    page.wait_for_function(_ONE_LEVEL, timeout=WAIT)


_ONE_LEVEL = """() => [...document.querySelectorAll('.leaflet-pane')].every((pane) =>
  [...pane.querySelectorAll(':scope > .leaflet-layer > .leaflet-tile-container')]
    .filter((level) => level.querySelector('canvas')).length <= 1)"""
