"""Planner analytics: coverage, gaps, response-time heatmaps, KPIs, station siting.

Plain domain code over numpy arrays and the routing engine's :class:`RoadGraph`; the
modules that read PostGIS do so through an SQLAlchemy engine given to them, and nothing
here knows Flask.

- :mod:`.population`: the population surface (people per H3 cell, per governorate);
- :mod:`.coverage`: drive-time coverage from stations or available units, and gaps;
- :mod:`.heatmap`: modelled and measured response times on H3 cells;
- :mod:`.kpi`: response-time KPIs from the incident history against standards;
- :mod:`.siting`: where to add stations (maximal and set covering with spopt);
- :mod:`.history`: the demo history generator (``simulate_history``);
- :mod:`.export`: CSV and GeoJSON of every result.
"""
