"""AVL: field-unit positions and statuses (plain domain code; nothing here knows Flask).

``fixes`` (the fix value, parsing, validation), ``payload`` (the JSON API format),
``osmand`` (Traccar's OsmAnd protocol, query/form and JSON), ``credentials`` (device id and
token per unit), ``ingest`` (the append-only track and the latest position, one
statement), ``tracks`` (GeoJSON out, staleness), ``status`` (field status through the
dispatch lifecycle), ``simulate`` (demo units driving on the road network).
"""
