"""The ``najda`` command line.

Every command is a thin shell over a plain function; a :class:`NajdaError` (or an
embedded-cluster error) is printed as one line and the command exits with status 1.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from najda.config import Settings, load_settings
from najda.db.localpg import LocalPostgresError
from najda.errors import NajdaError

F = TypeVar("F", bound=Callable[..., Any])


def fail_cleanly(func: F) -> F:
    """Turn domain and cluster errors into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (NajdaError, LocalPostgresError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


class Context:
    """Settings plus a lazily made engine (the embedded cluster starts when needed)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Any = None

    def engine(self) -> Any:
        if self._engine is None:
            from najda.db.session import embedded_cluster, make_engine

            if not self.settings.database_url:
                cluster = embedded_cluster(self.settings)
                if not cluster.running():
                    click.echo("starting the embedded database ...", err=True)
                    cluster.start()
            self._engine = make_engine(self.settings)
        return self._engine


pass_ctx = click.make_pass_decorator(Context)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.pass_context
def main(click_ctx: click.Context, verbose: bool) -> None:
    """Najda (نجدة): incident mapping and unit assignment for emergency operations centres."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    click_ctx.obj = Context(load_settings())


# -- database ----------------------------------------------------------------------------
@main.group()
def db() -> None:
    """The database: the embedded cluster and migrations."""


def _cluster(ctx: Context) -> Any:
    from najda.db.session import embedded_cluster

    if ctx.settings.database_url:
        raise click.UsageError("DATABASE_URL is set: the embedded cluster is not in use")
    return embedded_cluster(ctx.settings)


@db.command("start")
@pass_ctx
@fail_cleanly
def db_start(ctx: Context) -> None:
    """Start the embedded PostgreSQL + PostGIS cluster (creating it the first time)."""
    cluster = _cluster(ctx)
    cluster.start()
    click.echo(f"embedded database running: {cluster.url()}")


@db.command("stop")
@pass_ctx
@fail_cleanly
def db_stop(ctx: Context) -> None:
    """Stop the embedded cluster; its data stays in place."""
    cluster = _cluster(ctx)
    cluster.stop()
    click.echo("embedded database stopped")


@db.command("status")
@pass_ctx
@fail_cleanly
def db_status(ctx: Context) -> None:
    """Where the embedded cluster lives and whether it runs (exit 3 when stopped)."""
    cluster = _cluster(ctx)
    info = cluster.describe()
    for key, value in info.items():
        click.echo(f"{key:11} {value}")
    if info["running"] != "yes":
        sys.exit(3)


@db.command("url")
@pass_ctx
def db_url(ctx: Context) -> None:
    """Print the database URL in use."""
    from najda.db.session import database_url

    click.echo(database_url(ctx.settings))


@db.command("migrate")
@click.option("--revision", default="head", show_default=True)
@pass_ctx
@fail_cleanly
def db_migrate(ctx: Context, revision: str) -> None:
    """Apply the schema migrations."""
    from najda.db.migrate import current_revision, upgrade

    engine = ctx.engine()
    upgrade(engine, revision)
    click.echo(f"schema at revision {current_revision(engine)}")


# -- imports -----------------------------------------------------------------------------
@main.group("import")
def import_() -> None:
    """Import regions, boundaries, roads, stations and the catalogue."""


def _echo_report(report: Any) -> None:
    click.echo(report.summary())


@import_.command("region")
@click.argument("code")
@click.option("--online/--offline", default=None,
              help="Allow downloads for parts whose files are missing.")
@pass_ctx
@fail_cleanly
def import_region_cmd(ctx: Context, code: str, online: bool | None) -> None:
    """Build a whole region from its manifest in geo_data/regions/CODE.toml."""
    from najda.ingest.region import import_region

    settings = ctx.settings if online is None else ctx.settings.with_overrides(online=online)
    for report in import_region(ctx.engine(), settings, code):
        _echo_report(report)


@import_.command("catalogue")
@pass_ctx
@fail_cleanly
def import_catalogue_cmd(ctx: Context) -> None:
    """Agencies, unit types and incident types from geo_data/catalogue."""
    from najda.ingest.catalogue import import_catalogue

    _echo_report(import_catalogue(ctx.engine(), ctx.settings.geo_data_dir / "catalogue"))


@import_.command("boundaries")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--region", "region", required=True, help="Region code, e.g. riyadh.")
@click.option("--layer", type=click.Choice(["governorates", "jurisdictions", "neighbourhoods",
                                            "localities", "cities"]),
              default="governorates", show_default=True)
@click.option("--agency", help="Agency code (jurisdictions only).")
@click.option("--field", "fields", multiple=True, metavar="TARGET=SOURCE",
              help="Map a source attribute onto code, name_en, name_ar or population.")
@pass_ctx
@fail_cleanly
def import_boundaries_cmd(ctx: Context, path: Path, region: str, layer: str,
                          agency: str | None, fields: tuple[str, ...]) -> None:
    """Boundaries or places from GeoJSON, GeoPackage or Shapefile (any CRS)."""
    from najda.ingest.boundaries import import_boundaries

    mapping = dict(f.split("=", 1) for f in fields)
    _echo_report(import_boundaries(ctx.engine(), region, path, layer=layer,
                                   agency=agency, fields=mapping or None))


@import_.command("roads")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--region", "region", required=True)
@click.option("--place", help="Download with osmnx for this place name (online).")
@click.option("--polygon", type=click.Path(path_type=Path),
              help="Download with osmnx inside this polygon file (online).")
@pass_ctx
@fail_cleanly
def import_roads_cmd(ctx: Context, path: Path | None, region: str, place: str | None,
                     polygon: Path | None) -> None:
    """Roads from an OSM PBF/XML file, a GeoJSON of OSM ways, or an osmnx download."""
    from najda.ingest.roads import import_roads_file, import_roads_osmnx

    if path is not None:
        report = import_roads_file(ctx.engine(), region, path)
    elif place or polygon:
        report = import_roads_osmnx(ctx.engine(), region, place=place, polygon=polygon)
    else:
        raise click.UsageError("give a PATH, --place or --polygon")
    _echo_report(report)


@import_.command("stations")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--region", "region", required=True)
@click.option("--agency", help="Agency of every station (else from the amenity column).")
@pass_ctx
@fail_cleanly
def import_stations_cmd(ctx: Context, path: Path, region: str, agency: str | None) -> None:
    """Stations from points (GeoJSON, or CSV with lat/lon columns)."""
    from najda.ingest.stations import import_stations

    _echo_report(import_stations(ctx.engine(), region, path, agency=agency))


# -- status and serving --------------------------------------------------------------------
@main.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
@fail_cleanly
def status_cmd(ctx: Context, as_json: bool) -> None:
    """What is loaded: counts per layer and region."""
    from najda.ingest.status import format_status, loaded_status

    status = loaded_status(ctx.engine())
    if as_json:
        click.echo(json.dumps(status, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(format_status(status))


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--debug", is_flag=True)
@pass_ctx
@fail_cleanly
def serve_cmd(ctx: Context, host: str, port: int, debug: bool) -> None:
    """Serve the map and the API."""
    from najda.web import create_app

    ctx.engine()  # starts the embedded cluster when it is the database in use
    app = create_app(settings=ctx.settings)
    click.echo(f"Najda is serving at http://{host}:{port}/  (Ctrl+C to stop)")
    app.run(host=host, port=port, debug=debug, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
