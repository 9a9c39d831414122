"""SQLAlchemy 2 + GeoAlchemy2 models (SRID 4326 everywhere).

The Alembic migrations in ``najda/db/migrations`` are the source of the schema; these
models mirror them, and a test checks that the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SRID = 4326


def _geom(kind: str) -> Geometry:
    # Spatial indexes are created explicitly (GiST) by the migrations.
    return Geometry(kind, srid=SRID, spatial_index=False)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB}


class Region(Base):
    __tablename__ = "region"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name_en: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(Text, server_default="Asia/Riyadh")
    incident_prefix: Mapped[str] = mapped_column(Text, server_default="NJD")
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Governorate(Base):
    __tablename__ = "governorate"
    __table_args__ = (UniqueConstraint("region_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str] = mapped_column(Text)
    population: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))


class Place(Base):
    """Named places for search and population: neighbourhoods, localities, cities."""

    __tablename__ = "place"
    __table_args__ = (UniqueConstraint("region_id", "kind", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text, nullable=True)
    name_ar: Mapped[str | None] = mapped_column(Text, nullable=True)
    population: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    geom: Mapped[Any] = mapped_column(_geom("GEOMETRY"))


class Agency(Base):
    __tablename__ = "agency"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    name_en: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str] = mapped_column(Text)
    color: Mapped[str] = mapped_column(Text, server_default="#555555")


class RegionAgency(Base):
    """An agency of a region's centre, with its local names (null: the catalogue's)."""

    __tablename__ = "region_agency"
    __table_args__ = (
        CheckConstraint("(name_en IS NULL) = (name_ar IS NULL)", name="region_agency_names"),
        CheckConstraint("call_prefix ~ '^[A-Z]{1,3}$'", name="region_agency_call_prefix"),
    )
    region_id: Mapped[int] = mapped_column(
        ForeignKey("region.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name_en: Mapped[str | None] = mapped_column(Text, nullable=True)
    name_ar: Mapped[str | None] = mapped_column(Text, nullable=True)
    call_prefix: Mapped[str | None] = mapped_column(Text, nullable=True)


class Jurisdiction(Base):
    __tablename__ = "jurisdiction"
    __table_args__ = (UniqueConstraint("region_id", "agency_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))


class RoadNode(Base):
    __tablename__ = "road_node"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    osm_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    geom: Mapped[Any] = mapped_column(_geom("POINT"))


class RoadEdge(Base):
    __tablename__ = "road_edge"
    __table_args__ = (
        CheckConstraint("travel_time_s > 0", name="road_edge_travel_time_positive"),
        CheckConstraint("length_m > 0", name="road_edge_length_positive"),
        CheckConstraint("speed_kph > 0", name="road_edge_speed_positive"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    u: Mapped[int] = mapped_column(ForeignKey("road_node.id", ondelete="CASCADE"))
    v: Mapped[int] = mapped_column(ForeignKey("road_node.id", ondelete="CASCADE"))
    osm_way_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    highway: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text, nullable=True)
    name_ar: Mapped[str | None] = mapped_column(Text, nullable=True)
    oneway: Mapped[bool] = mapped_column(Boolean, server_default="false")
    length_m: Mapped[float] = mapped_column(Float)
    speed_kph: Mapped[float] = mapped_column(Float)
    travel_time_s: Mapped[float] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(_geom("LINESTRING"))


class GraphVersion(Base):
    __tablename__ = "graph_version"
    __table_args__ = (UniqueConstraint("region_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    node_count: Mapped[int] = mapped_column(Integer)
    edge_count: Mapped[int] = mapped_column(Integer)
    component_count: Mapped[int] = mapped_column(Integer)
    dropped_node_count: Mapped[int] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Station(Base):
    __tablename__ = "station"
    __table_args__ = (UniqueConstraint("region_id", "code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"))
    code: Mapped[str] = mapped_column(Text)
    kind: Mapped[str | None] = mapped_column(Text, nullable=True)
    name_en: Mapped[str | None] = mapped_column(Text, nullable=True)
    name_ar: Mapped[str | None] = mapped_column(Text, nullable=True)
    geom: Mapped[Any] = mapped_column(_geom("POINT"))
    road_node_id: Mapped[int | None] = mapped_column(
        ForeignKey("road_node.id", ondelete="SET NULL"), nullable=True
    )
    snap_distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)


class UnitType(Base):
    __tablename__ = "unit_type"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"))
    name_en: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str] = mapped_column(Text)
    capabilities: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")


UNIT_STATUSES = ("available", "dispatched", "en_route", "on_scene", "returning", "out_of_service")


class Unit(Base):
    __tablename__ = "unit"
    __table_args__ = (
        CheckConstraint(
            "status IN ('available','dispatched','en_route','on_scene','returning',"
            "'out_of_service')",
            name="unit_status_known",
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sign: Mapped[str] = mapped_column(Text, unique=True)
    unit_type_id: Mapped[int] = mapped_column(ForeignKey("unit_type.id", ondelete="RESTRICT"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"))
    station_id: Mapped[int | None] = mapped_column(
        ForeignKey("station.id", ondelete="SET NULL"), nullable=True
    )
    status: Mapped[str] = mapped_column(Text, server_default="available")
    device_id: Mapped[str | None] = mapped_column(Text, unique=True, nullable=True)
    token_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_position: Mapped[Any] = mapped_column(_geom("POINT"), nullable=True)
    last_fix_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IncidentType(Base):
    __tablename__ = "incident_type"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    category: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str] = mapped_column(Text)
    default_priority: Mapped[int] = mapped_column(Integer)
    response_plan: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")


class LayerImport(Base):
    """What was last imported into each layer of a region, and from where."""

    __tablename__ = "layer_import"
    __table_args__ = (UniqueConstraint("region_id", "layer"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    layer: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    feature_count: Mapped[int] = mapped_column(Integer)
    skipped_count: Mapped[int] = mapped_column(Integer, server_default="0")
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


# -- dispatch (migration 0002) -------------------------------------------------------------
USER_ROLES = ("dispatcher", "supervisor", "planner", "admin")
INCIDENT_STATUSES = (
    "received",
    "dispatched",
    "en_route",
    "on_scene",
    "cleared",
    "closed",
    "cancelled",
)


class AppUser(Base):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(
            "role IN ('dispatcher','supervisor','planner','admin')", name="app_user_role_known"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    display_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    role: Mapped[str] = mapped_column(Text)
    agency_id: Mapped[int | None] = mapped_column(
        ForeignKey("agency.id", ondelete="SET NULL"), nullable=True
    )
    password_hash: Mapped[str | None] = mapped_column(Text, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ApiToken(Base):
    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(Text)
    token_hash: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class IncidentSequence(Base):
    __tablename__ = "incident_sequence"
    region_id: Mapped[int] = mapped_column(
        ForeignKey("region.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (
        CheckConstraint(
            "status IN ('received','dispatched','en_route','on_scene','cleared',"
            "'closed','cancelled')",
            name="incident_status_known",
        ),
        CheckConstraint("priority BETWEEN 1 AND 5", name="incident_priority_range"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(Text, unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="RESTRICT"))
    incident_type_id: Mapped[int] = mapped_column(
        ForeignKey("incident_type.id", ondelete="RESTRICT")
    )
    priority: Mapped[int] = mapped_column(Integer)
    priority_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(Text, server_default="received")
    geom: Mapped[Any] = mapped_column(_geom("POINT"))
    address: Mapped[str | None] = mapped_column(Text, nullable=True)
    caller_number: Mapped[str | None] = mapped_column(Text, nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    governorate_id: Mapped[int | None] = mapped_column(
        ForeignKey("governorate.id", ondelete="SET NULL"), nullable=True
    )
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True
    )
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    en_route_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    on_scene_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IncidentJurisdiction(Base):
    __tablename__ = "incident_jurisdiction"
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[int] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True
    )
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="CASCADE"))


class Assignment(Base):
    """A unit sent to an incident; active while ``released_at`` is null (at most one per
    unit, enforced by the partial unique index ``ux_assignment_active_unit``)."""

    __tablename__ = "assignment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    capability: Mapped[str | None] = mapped_column(Text, nullable=True)
    eta_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)
    route: Mapped[Any] = mapped_column(_geom("LINESTRING"), nullable=True)
    # how eta_s was made: road, straight_line or none, and why not by road (0008)
    eta_method: Mapped[str | None] = mapped_column(Text, nullable=True)
    eta_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    assigned_by: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True
    )
    assigned_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class IncidentEvent(Base):
    """The append-only timeline of an incident (a trigger refuses UPDATE and DELETE)."""

    __tablename__ = "incident_event"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True
    )
    actor: Mapped[str | None] = mapped_column(Text, nullable=True)
    kind: Mapped[str] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(Text, nullable=True)
    to_status: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")


# -- avl (migration 0003) ------------------------------------------------------------------
class Position(Base):
    """One GPS fix of a unit: the append-only track, unique on (unit, fix time)."""

    __tablename__ = "position"
    __table_args__ = (
        CheckConstraint(
            "ST_X(geom) BETWEEN -180 AND 180 AND ST_Y(geom) BETWEEN -90 AND 90",
            name="position_coordinates_range",
        ),
        CheckConstraint("speed IS NULL OR speed >= 0", name="position_speed_range"),
        CheckConstraint(
            "heading IS NULL OR (heading >= 0 AND heading <= 360)", name="position_heading_range"
        ),
        CheckConstraint(
            "battery IS NULL OR (battery >= 0 AND battery <= 100)", name="position_battery_range"
        ),
    )
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True
    )
    fix_time: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    geom: Mapped[Any] = mapped_column(_geom("POINT"))
    speed: Mapped[float | None] = mapped_column(Float, nullable=True)  # m/s
    heading: Mapped[float | None] = mapped_column(Float, nullable=True)  # degrees from north
    accuracy: Mapped[float | None] = mapped_column(Float, nullable=True)  # metres
    altitude: Mapped[float | None] = mapped_column(Float, nullable=True)  # metres
    battery: Mapped[float | None] = mapped_column(Float, nullable=True)  # percent


# -- analytics (migration 0004) ------------------------------------------------------------
class IncidentCall(Base):
    """When the call behind an incident was answered (call handling starts there)."""

    __tablename__ = "incident_call"
    __table_args__ = (
        CheckConstraint(
            "source IN ('cti', 'manual', 'simulated')", name="incident_call_source_known"
        ),
    )
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text, server_default="cti")


# -- dispatch: per-unit progress (migration 0005) ------------------------------------------
class AssignmentProgress(Base):
    """When the unit of one assignment set off and arrived (its own turnout and travel)."""

    __tablename__ = "assignment_progress"
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignment.id", ondelete="CASCADE"), primary_key=True
    )
    en_route_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    on_scene_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


# -- boundaries cut for point-in-polygon lookups (migration 0007, kept by triggers) -------
class GovernoratePart(Base):
    """A piece (at most 128 vertices) of a governorate polygon."""

    __tablename__ = "governorate_part"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    governorate_id: Mapped[int] = mapped_column(ForeignKey("governorate.id", ondelete="CASCADE"))
    area: Mapped[float] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(_geom("GEOMETRY"))


class JurisdictionPart(Base):
    """A piece (at most 128 vertices) of an agency jurisdiction polygon."""

    __tablename__ = "jurisdiction_part"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdiction.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(Integer)
    area: Mapped[float] = mapped_column(Float)
    geom: Mapped[Any] = mapped_column(_geom("GEOMETRY"))
