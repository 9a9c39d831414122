"""SQLAlchemy 2 + GeoAlchemy2 models (SRID 4326 everywhere).

The Alembic migrations in ``najda/db/migrations`` are the source of the schema; these
models mirror them, and a test checks that the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
    type_annotation_map = {dict[str, Any]: JSONB}


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
        ForeignKey("road_node.id", ondelete="SET NULL"), nullable=True)
    snap_distance_m: Mapped[float | None] = mapped_column(Float, nullable=True)


class UnitType(Base):
    __tablename__ = "unit_type"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"))
    name_en: Mapped[str] = mapped_column(Text)
    name_ar: Mapped[str] = mapped_column(Text)
    capabilities: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")


UNIT_STATUSES = ("available", "dispatched", "en_route", "on_scene", "returning",
                 "out_of_service")


class Unit(Base):
    __tablename__ = "unit"
    __table_args__ = (
        CheckConstraint(
            "status IN ('available','dispatched','en_route','on_scene','returning',"
            "'out_of_service')", name="unit_status_known"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sign: Mapped[str] = mapped_column(Text, unique=True)
    unit_type_id: Mapped[int] = mapped_column(ForeignKey("unit_type.id", ondelete="RESTRICT"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agency.id", ondelete="RESTRICT"))
    station_id: Mapped[int | None] = mapped_column(
        ForeignKey("station.id", ondelete="SET NULL"), nullable=True)
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
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True),
                                                  server_default=func.now())
