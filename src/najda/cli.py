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
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
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
@click.option(
    "--online/--offline", default=None, help="Allow downloads for parts whose files are missing."
)
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
@click.option(
    "--layer",
    type=click.Choice(
        ["governorates", "jurisdictions", "neighbourhoods", "localities", "cities", "zones"]
    ),
    default="governorates",
    show_default=True,
)
@click.option("--agency", help="Agency code (jurisdictions only).")
@click.option(
    "--field",
    "fields",
    multiple=True,
    metavar="TARGET=SOURCE",
    help="Map a source attribute onto code, name_en, name_ar or population.",
)
@pass_ctx
@fail_cleanly
def import_boundaries_cmd(
    ctx: Context, path: Path, region: str, layer: str, agency: str | None, fields: tuple[str, ...]
) -> None:
    """Boundaries or places from GeoJSON, GeoPackage or Shapefile (any CRS)."""
    from najda.ingest.boundaries import import_boundaries

    mapping = dict(f.split("=", 1) for f in fields)
    _echo_report(
        import_boundaries(
            ctx.engine(), region, path, layer=layer, agency=agency, fields=mapping or None
        )
    )


@import_.command("roads")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--region", "region", required=True)
@click.option("--place", help="Download with osmnx for this place name (online).")
@click.option(
    "--polygon",
    type=click.Path(path_type=Path),
    help="Download with osmnx inside this polygon file (online).",
)
@pass_ctx
@fail_cleanly
def import_roads_cmd(
    ctx: Context, path: Path | None, region: str, place: str | None, polygon: Path | None
) -> None:
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
@click.option("--dev", is_flag=True, help="Werkzeug's development server instead of gunicorn.")
@click.option("--workers", type=int, default=None, help="gunicorn workers (default 2 x cores).")
@click.option(
    "--simulate",
    "simulate",
    type=int,
    default=0,
    show_default=True,
    help="Also drive this many demo units along the roads (najda simulate units).",
)
@click.option(
    "--simulate-region",
    default="riyadh",
    show_default=True,
    help="The region whose units --simulate drives.",
)
@pass_ctx
@fail_cleanly
def serve_cmd(
    ctx: Context,
    host: str,
    port: int,
    dev: bool,
    workers: int | None,
    simulate: int,
    simulate_region: str,
) -> None:
    """Serve the map and the API (under gunicorn unless --dev)."""
    from najda.web.server import serve

    ctx.engine()  # starts the embedded cluster when it is the database in use
    serve(
        ctx.settings,
        host=host,
        port=port,
        dev=dev,
        workers=workers,
        simulate=simulate,
        simulate_region=simulate_region,
    )


# -- dispatch ----------------------------------------------------------------------------
@main.group("user")
def user_group() -> None:
    """People who use Najda (dispatcher, supervisor, planner, admin)."""


@user_group.command("create")
@click.argument("name")
@click.option(
    "--role", required=True, type=click.Choice(["dispatcher", "supervisor", "planner", "admin"])
)
@click.option("--display-name", default=None)
@click.option("--agency", default=None, help="Agency code the user belongs to.")
@click.option(
    "--password",
    default=None,
    help="Password (prompted when omitted; --no-password for a service account).",
)
@click.option("--no-password", is_flag=True, help="A service account for API tokens only.")
@click.option("--token", "token_name", default=None, help="Also issue an API token so named.")
@pass_ctx
@fail_cleanly
def user_create_cmd(
    ctx: Context,
    name: str,
    role: str,
    display_name: str | None,
    agency: str | None,
    password: str | None,
    no_password: bool,
    token_name: str | None,
) -> None:
    """Create a user NAME with a role; print an API token with --token."""
    from najda.dispatch.auth import create_user, issue_token

    if password is None and not no_password:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    user = create_user(
        ctx.engine(),
        username=name,
        role=role,
        password=None if no_password else password,
        display_name=display_name,
        agency_code=agency,
    )
    click.echo(f"user {user.username} ({user.role}) created, id {user.id}")
    if token_name:
        _, secret = issue_token(ctx.engine(), user_id=user.id, name=token_name)
        click.echo(f"API token (shown once): {secret}")


@main.group("seed")
def seed_group() -> None:
    """Demo data."""


@seed_group.command("demo")
@click.option("--region", "region", default="riyadh", show_default=True)
@click.option(
    "--max-snap-m",
    default=500.0,
    show_default=True,
    help="Use stations at most this far from the road graph.",
)
@click.option(
    "--patrols",
    default=10,
    show_default=True,
    help="Security and traffic patrols each, posted on road nodes.",
)
@pass_ctx
@fail_cleanly
def seed_demo_cmd(ctx: Context, region: str, max_snap_m: float, patrols: int) -> None:
    """Units of several agencies on the road network, and demo users with passwords."""
    from najda.dispatch.seed import seed_demo

    report = seed_demo(ctx.engine(), region=region, max_snap_m=max_snap_m, patrols=patrols)
    click.echo(
        f"demo: {report.units_created} units created at {report.stations_used} "
        f"stations near the roads and on patrol"
    )
    for role, password in report.credentials.items():
        click.echo(f"  {role:10} user: {role:10} password: {password}")


# -- avl ---------------------------------------------------------------------------------
@main.group("simulate")
def simulate_group() -> None:
    """Simulated field units (demo)."""


@simulate_group.command("units")
@click.option(
    "--url",
    default="http://127.0.0.1:8000",
    show_default=True,
    help="The running Najda server the units report to.",
)
@click.option("--region", "region", default="riyadh", show_default=True)
@click.option("--count", default=20, show_default=True, help="How many units drive.")
@click.option("--call-sign", "call_signs", multiple=True, help="Drive these units only.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between fixes.")
@click.option(
    "--speedup",
    default=1.0,
    show_default=True,
    help="Drive this many times faster than the roads' speeds.",
)
@click.option(
    "--duration",
    default=0.0,
    show_default=True,
    help="Stop after this many seconds (0: until Ctrl+C).",
)
@pass_ctx
@fail_cleanly
def simulate_units_cmd(
    ctx: Context,
    url: str,
    region: str,
    count: int,
    call_signs: tuple[str, ...],
    interval: float,
    speedup: float,
    duration: float,
) -> None:
    """Drive units along the region's roads, reporting fixes through the HTTP API.

    Each chosen unit gets fresh device credentials (its old token stops working): use it
    on demo data.
    """
    import time

    import requests

    from najda.avl import simulate as sim

    graph = sim.load_graph(ctx.engine(), region)
    units = sim.prepare_units(ctx.engine(), region=region, count=count, call_signs=call_signs)
    if not units:
        raise click.UsageError("no units to drive: seed the demo first (najda seed demo)")
    drivers = sim.drivers_for(units, graph)
    http = requests.Session()
    endpoint = url.rstrip("/") + "/api/v1/avl/positions"
    click.echo(
        f"driving {len(units)} units on {sum(map(len, graph.values()))} road edges, "
        f"a fix every {interval:g} s to {endpoint} (Ctrl+C to stop)"
    )
    stop_at = time.monotonic() + duration if duration > 0 else float("inf")
    while time.monotonic() < stop_at:
        tick = time.monotonic()
        failed = 0
        for unit in units:
            drivers[unit.unit_id].advance(interval * speedup)
            r = http.post(
                endpoint,
                json=sim.fix_body(drivers[unit.unit_id]),
                timeout=10,
                headers={"Authorization": f"Bearer {unit.token}"},
            )
            failed += r.status_code != 200
        click.echo(
            f"{time.strftime('%H:%M:%S')} {len(units) - failed} fixes sent"
            + (f", {failed} refused" if failed else "")
        )
        time.sleep(max(0.0, interval - (time.monotonic() - tick)))


# -- analytics ---------------------------------------------------------------------------
def _simulate_group() -> click.Group:
    """The ``simulate`` group (another block may have made it already)."""
    group = main.commands.get("simulate")
    if isinstance(group, click.Group):
        return group

    @main.group("simulate")
    def simulate_cmds() -> None:
        """Generate demo data."""

    return simulate_cmds


@_simulate_group().command("history")
@click.option("--months", default=3.0, show_default=True, type=float)
@click.option(
    "--per-day",
    default=8.0,
    show_default=True,
    type=float,
    help="Mean dispatched incidents per day.",
)
@click.option("--region", "region", default="riyadh", show_default=True)
@click.option("--seed", default=0, show_default=True, type=int)
@pass_ctx
@fail_cleanly
def simulate_history_cmd(
    ctx: Context, months: float, per_day: float, region: str, seed: int
) -> None:
    """Months of closed incidents dispatched by the real engine (demo data)."""
    from sqlalchemy import text as sql

    from najda.analytics.history import simulate_history

    with ctx.engine().connect() as conn:
        units = conn.execute(sql("SELECT count(*) FROM unit")).scalar_one()
    if not units:
        from najda.dispatch.seed import seed_demo

        click.echo("no units yet: seeding the demo units first", err=True)
        seed_demo(ctx.engine(), region=region)
    report = simulate_history(
        ctx.engine(), region=region, months=months, per_day=per_day, seed=seed
    )
    click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))


@main.group("analyse")
def analyse_group() -> None:
    """Planner analytics: coverage, gaps, KPIs, station siting."""


def _planner(ctx: Context, region: str) -> Any:
    from najda.analytics.service import Planner

    return Planner(ctx.engine(), region, max_age_s=ctx.settings.position_max_age_s)


def _emit(
    rows: list[dict[str, Any]],
    as_csv: bool,
    out: Path | None,
    collection: dict[str, Any] | None = None,
) -> None:
    from najda.analytics.export import rows_to_csv

    if out is not None and out.suffix == ".geojson" and collection is not None:
        out.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
        click.echo(f"wrote {out}")
        return
    body = (
        rows_to_csv(rows)
        if as_csv or (out and out.suffix == ".csv")
        else json.dumps(rows, ensure_ascii=False, indent=2)
    )
    if out is not None:
        out.write_text(body, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(body)


_region_opt = click.option("--region", "region", default="riyadh", show_default=True)
_out_opt = click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to a .csv, .json or .geojson file.",
)


@analyse_group.command("coverage")
@_region_opt
@click.option("--source", type=click.Choice(["stations", "units"]), default="stations")
@click.option("--agency", default=None)
@click.option("--thresholds", default="4,8,12", show_default=True, help="Minutes.")
@click.option("--resolution", default=8, show_default=True, type=int, help="H3 resolution.")
@click.option("--csv", "as_csv", is_flag=True)
@_out_opt
@pass_ctx
@fail_cleanly
def analyse_coverage_cmd(
    ctx: Context,
    region: str,
    source: str,
    agency: str | None,
    thresholds: str,
    resolution: int,
    as_csv: bool,
    out: Path | None,
) -> None:
    """Population-weighted coverage per governorate (areas with --out x.geojson)."""
    from najda.analytics.coverage import coverage_geojson

    result = _planner(ctx, region).coverage(
        source=source,
        agency=agency,
        resolution=resolution,
        thresholds_min=[float(t) for t in thresholds.split(",") if t.strip()],
    )
    rows = [*result.governorate_rows(), {"name_en": "TOTAL", **result.totals()}]
    _emit(rows, as_csv, out, coverage_geojson(result) if out else None)


@analyse_group.command("gaps")
@_region_opt
@click.option("--threshold", default=8.0, show_default=True, type=float)
@click.option("--source", type=click.Choice(["stations", "units"]), default="stations")
@click.option("--resolution", default=8, show_default=True, type=int)
@click.option("--csv", "as_csv", is_flag=True)
@_out_opt
@pass_ctx
@fail_cleanly
def analyse_gaps_cmd(
    ctx: Context,
    region: str,
    threshold: float,
    source: str,
    resolution: int,
    as_csv: bool,
    out: Path | None,
) -> None:
    """H3 cells with people beyond the threshold."""
    from najda.analytics.coverage import gaps_geojson

    result = _planner(ctx, region).coverage(
        source=source, thresholds_min=[threshold], resolution=resolution
    )
    _emit(result.gap_rows(threshold), as_csv, out, gaps_geojson(result, threshold) if out else None)


@analyse_group.command("kpis")
@_region_opt
@click.option(
    "--by",
    default="all",
    show_default=True,
    type=click.Choice(["all", "governorate", "agency", "priority", "hour", "category"]),
)
@click.option("--target", "targets", multiple=True, metavar="STAGE=SECONDS")
@click.option("--csv", "as_csv", is_flag=True)
@_out_opt
@pass_ctx
@fail_cleanly
def analyse_kpis_cmd(
    ctx: Context, region: str, by: str, targets: tuple[str, ...], as_csv: bool, out: Path | None
) -> None:
    """p50/p90 of each stage per group, with the NFPA 1710 and ambulance standards."""
    goals = {}
    for item in targets:
        stage, _, seconds = item.partition("=")
        goals[stage] = float(seconds)
    report = _planner(ctx, region).kpis(by=by, targets=goals)
    _emit(report.rows, as_csv, out)
    if out is None and not as_csv:
        click.echo(json.dumps(report.standards, ensure_ascii=False, indent=2))


@analyse_group.command("siting")
@_region_opt
@click.option("--model", type=click.Choice(["mclp", "lscp"]), default="mclp")
@click.option("--add", default=1, show_default=True, type=int)
@click.option("--threshold", default=8.0, show_default=True, type=float)
@click.option("--agency", default=None)
@pass_ctx
@fail_cleanly
def analyse_siting_cmd(
    ctx: Context, region: str, model: str, add: int, threshold: float, agency: str | None
) -> None:
    """Where to add stations (existing ones fixed), with coverage before and after."""
    answer = _planner(ctx, region).siting(
        model=model, add=add, threshold_min=threshold, agency=agency
    )
    answer.pop("cells")
    click.echo(json.dumps(answer, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
