"""Drives sqlgate through SQLAlchemy 2 with the psycopg 3 dialect: the
inspector (what Superset-style tools and reflection call) and the ORM.

Usage: sqlalchemy_client.py PORT CERT USER PASSWORD PRIV_USER PRIV_PASSWORD
"""

import datetime
import sys

from sqlalchemy import Boolean, DateTime, Integer, String, create_engine, func, inspect, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from report import out, step

port, cert, user, password, priv_user, priv_password = sys.argv[1:7]


def engine_for(u, p, **options):
    return create_engine(
        f"postgresql+psycopg://{u}:{p}@localhost:{port}/sqlgate",
        connect_args={"sslmode": "verify-full", "sslrootcert": cert, "connect_timeout": 20},
        **options,
    )


class Base(DeclarativeBase):
    pass


class Incident(Base):
    __tablename__ = "incident"
    sys_id: Mapped[str] = mapped_column(String, primary_key=True)
    number: Mapped[str] = mapped_column(String)
    priority: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean)
    opened_at: Mapped[datetime.datetime] = mapped_column(DateTime)


options = {}
engine = engine_for(user, password)
state = {}


def connect():
    with engine.connect() as c:
        out("connected", c.exec_driver_sql("SELECT 1").scalar())
    state["inspector"] = inspect(engine)


def schemas():
    out("schemas", ",".join(state["inspector"].get_schema_names()))


def tables():
    out("tables", ",".join(sorted(state["inspector"].get_table_names(schema="public"))))


def default_schema_tables():
    out("tables-default", ",".join(sorted(state["inspector"].get_table_names())))


def has_table():
    i = state["inspector"]
    out("has-incident", i.has_table("incident", schema="public"))
    out("has-forbidden", i.has_table("sn_hr_core_case", schema="public"))


def columns():
    cols = state["inspector"].get_columns("incident", schema="public")
    out("columns", ",".join(f"{c['name']}:{c['type']!r}:{c['nullable']}" for c in cols))


def forbidden_columns():
    try:
        cols = state["inspector"].get_columns("sn_hr_core_case", schema="public")
        out("forbidden-columns", ",".join(c["name"] for c in cols))
    except Exception as e:
        out("forbidden-columns", type(e).__name__)


def pk():
    out("pk", state["inspector"].get_pk_constraint("incident", schema="public"))


def fks():
    out("fks", len(state["inspector"].get_foreign_keys("incident", schema="public")))


def indexes():
    out("indexes", len(state["inspector"].get_indexes("incident", schema="public")))


def views():
    out("views", ",".join(state["inspector"].get_view_names(schema="public")))


def orm():
    with Session(engine) as s:
        stmt = (
            select(Incident)
            .where(Incident.priority == 3, Incident.active.is_(False))
            .order_by(Incident.number)
            .limit(5)
        )
        rows = s.scalars(stmt).all()
        out("orm-numbers", ",".join(r.number for r in rows))
        out("orm-types", ",".join(sorted({type(r.opened_at).__name__ for r in rows})))
        n = s.scalar(select(func.count()).select_from(Incident).where(Incident.priority == 3, Incident.active.is_(False)))
        out("orm-count", n)


def privileged():
    e = engine_for(priv_user, priv_password, **options)
    out("priv-tables", ",".join(sorted(inspect(e).get_table_names(schema="public"))))
    e.dispose()


step("connect", connect)
if "inspector" not in state:
    # The dialect's first connection failed. So that this run still reports
    # what the inspector and the ORM do, go on without the one optional
    # start-up probe (hstore type lookup); the failure above stands.
    engine.dispose()
    options["use_native_hstore"] = False
    engine = engine_for(user, password, **options)
    out("fallback", "use_native_hstore=False")
    step("connect-fallback", connect)
if "inspector" in state:
    step("schemas", schemas)
    step("tables", tables)
    step("tables-default", default_schema_tables)
    step("has-table", has_table)
    step("columns", columns)
    step("forbidden-columns", forbidden_columns)
    step("pk", pk)
    step("fks", fks)
    step("indexes", indexes)
    step("views", views)
step("orm", orm)
step("privileged", privileged)
engine.dispose()
out("done", "yes")
