"""Drives sqlgate through psycopg 3 in text and binary modes.

Usage: psycopg_client.py PORT CERT USER PASSWORD NUMBER
"""

import datetime
import sys

import psycopg
from psycopg.types import TypeInfo

from report import error, out, step

port, cert, user, password, number = sys.argv[1:6]
conninfo = (
    f"host=localhost port={port} dbname=sqlgate user={user} password={password} "
    f"sslmode=verify-full sslrootcert={cert} connect_timeout=20 application_name=sqlgate-psycopg-test"
)

try:
    conn = psycopg.connect(conninfo, autocommit=True)
except Exception as e:
    error("connect", getattr(e, "sqlstate", None) or "-", e)
    sys.exit(0)
out("connected", "yes")
out("server-version", conn.info.parameter_status("server_version"))

ROW_SQL = "SELECT number, priority, active, opened_at, business_duration FROM incident WHERE number = %s"


def row_text(row):
    n, prio, active, opened, duration = row
    return f"{n}|{type(prio).__name__}:{prio}|{type(active).__name__}:{active}|{type(opened).__name__}:{opened.isoformat() if opened else None}|{duration}"


def text_mode():
    with conn.cursor() as cur:
        cur.execute(ROW_SQL, (number,))
        out("text-row", row_text(cur.fetchone()))
        out("text-formats", ",".join(str(c.type_code) for c in cur.description))


def binary_mode():
    with conn.cursor(binary=True) as cur:
        cur.execute(ROW_SQL, (number,))
        out("binary-row", row_text(cur.fetchone()))


def typed_params():
    for binary in (False, True):
        with conn.cursor(binary=binary) as cur:
            cur.execute(
                "SELECT count(*) FROM incident WHERE priority = %s AND active = %s AND opened_at < %s AND number <> %s",
                (4, True, datetime.datetime(2030, 1, 1), "NO-SUCH-NUMBER"),
            )
            out(f"typed-count-{'binary' if binary else 'text'}", cur.fetchone()[0])


def tables():
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
        )
        out("tables", ",".join(r[0] for r in cur.fetchall()))


def columns_info():
    with conn.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'incident' ORDER BY ordinal_position"
        )
        out("columns-info", ",".join(f"{n}:{t}" for n, t in cur.fetchall()))


def type_info():
    # What psycopg runs to adapt a type it does not know (hstore, enums...).
    info = TypeInfo.fetch(conn, "int4")
    out("typeinfo-int4", f"{info.oid if info else None}:{info.array_oid if info else None}")


def stream():
    n = 0
    with conn.cursor() as cur:
        for _ in cur.stream("SELECT number FROM incident ORDER BY number"):
            n += 1
    out("stream-rows", n)


def server_cursor():
    # A named cursor: DECLARE ... CURSOR and FETCH in a transaction.
    n = 0
    with psycopg.connect(conninfo) as tx:
        with tx.cursor(name="incidents") as cur:
            cur.itersize = 250
            cur.execute("SELECT number FROM incident ORDER BY number")
            for _ in cur:
                n += 1
    out("server-cursor-rows", n)


def forbidden():
    with conn.cursor() as cur:
        try:
            cur.execute("SELECT count(*) FROM sn_hr_core_case")
            out("forbidden-query", "answered")
        except psycopg.Error as e:
            out("forbidden-query", e.sqlstate)


step("text", text_mode)
step("binary", binary_mode)
step("typed-params", typed_params)
step("tables", tables)
step("columns-info", columns_info)
step("typeinfo", type_info)
step("stream", stream)
step("server-cursor", server_cursor)
step("forbidden", forbidden)
conn.close()
out("done", "yes")
