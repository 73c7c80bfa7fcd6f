"""Drives sqlgate through psqlODBC (unixODBC driver manager, pyodbc),
DSN-less with the driver library's path: SQLTables, SQLColumns,
SQLPrimaryKeys, SQLGetTypeInfo and parameterised queries.

Usage: odbc_client.py DRIVER_SO PORT CERT USER PASSWORD PRIV_USER PRIV_PASSWORD NUMBER
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import pyodbc  # noqa: E402

from report import out, step  # noqa: E402

driver, port, cert, user, password, priv_user, priv_password, number = sys.argv[1:9]


def connection_string(u, p):
    # SSLmode is psqlODBC's own keyword; pqopt passes libpq options through.
    return (
        f"Driver={driver};Servername=localhost;Port={port};Database=sqlgate;"
        f"Username={u};Password={p};SSLmode=verify-full;pqopt={{sslrootcert={cert}}};"
        "ConnSettings=;Debug=0;CommLog=0;"
    )


state = {}


def connect():
    state["conn"] = pyodbc.connect(connection_string(user, password), autocommit=True, timeout=20)
    info = state["conn"].getinfo
    out("connected", f"{info(pyodbc.SQL_DRIVER_NAME)} {info(pyodbc.SQL_DRIVER_VER)}")
    out("dbms", f"{info(pyodbc.SQL_DBMS_NAME)} {info(pyodbc.SQL_DBMS_VER)}")


def tables():
    cur = state["conn"].cursor()
    rows = cur.tables(tableType="TABLE").fetchall()
    out("tables", ",".join(sorted(f"{r.table_schem}.{r.table_name}" for r in rows)))


def tables_all_types():
    cur = state["conn"].cursor()
    rows = cur.tables().fetchall()
    out("tables-all", ",".join(sorted(f"{r.table_schem}.{r.table_name}:{r.table_type}" for r in rows)))


def tables_forbidden():
    cur = state["conn"].cursor()
    rows = cur.tables(table="sn_hr_core_case").fetchall()
    out("tables-forbidden", ",".join(r.table_name for r in rows))


def columns():
    cur = state["conn"].cursor()
    rows = cur.columns(table="incident", schema="public").fetchall()
    out("columns", ",".join(f"{r.column_name}:{r.type_name}:{r.data_type}" for r in rows))


def columns_forbidden():
    cur = state["conn"].cursor()
    rows = cur.columns(table="sn_hr_core_case").fetchall()
    out("columns-forbidden", len(rows))


def primary_keys():
    cur = state["conn"].cursor()
    out("primary-keys", len(cur.primaryKeys("incident", schema="public").fetchall()))


def type_info():
    cur = state["conn"].cursor()
    out("type-info", len(cur.getTypeInfo().fetchall()))


def params():
    cur = state["conn"].cursor()
    n = cur.execute(
        "SELECT count(*) FROM incident WHERE priority = ? AND active = ? AND number <> ?", 3, False, "NO-SUCH-NUMBER"
    ).fetchone()[0]
    out("param-count", n)
    row = cur.execute(
        "SELECT number, priority, active, opened_at FROM incident WHERE number = ?", number
    ).fetchone()
    out("param-row", "none" if row is None else f"{row[0]}|{row[1]}|{row[2]}|{row[3].isoformat(sep=' ')}")


def forbidden_query():
    cur = state["conn"].cursor()
    try:
        cur.execute("SELECT count(*) FROM sn_hr_core_case").fetchall()
        out("forbidden-query", "answered")
    except pyodbc.Error as e:
        out("forbidden-query", e.args[0])


def privileged():
    conn = pyodbc.connect(connection_string(priv_user, priv_password), autocommit=True, timeout=20)
    rows = conn.cursor().tables(tableType="TABLE").fetchall()
    out("priv-tables", ",".join(sorted(f"{r.table_schem}.{r.table_name}" for r in rows)))
    conn.close()


step("connect", connect)
if "conn" in state:
    step("SQLTables", tables)
    step("SQLTables-all", tables_all_types)
    step("SQLTables-forbidden", tables_forbidden)
    step("SQLColumns", columns)
    step("SQLColumns-forbidden", columns_forbidden)
    step("SQLPrimaryKeys", primary_keys)
    step("SQLGetTypeInfo", type_info)
    step("parameters", params)
    step("forbidden-query", forbidden_query)
    state["conn"].close()
step("privileged", privileged)
out("done", "yes")
