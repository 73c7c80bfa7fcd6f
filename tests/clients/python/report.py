"""Output shared by the Python client scripts: one "key<TAB>value" line per
fact for the Rust test to check; a failing step prints
"error<TAB>step<TAB>sqlstate<TAB>message" and the script goes on."""

import sys
import traceback


def clean(value):
    return str(value).replace("\n", " ").replace("\t", " ")


def out(key, value):
    print(f"{key}\t{clean(value)}", flush=True)


def error(step_name, state, message):
    print(f"error\t{clean(step_name)}\t{clean(state)}\t{clean(message)}", flush=True)


def step(name, body):
    try:
        body()
    except Exception as e:  # every failure is reported, none stops the run
        state = getattr(e, "sqlstate", None) or getattr(getattr(e, "orig", None), "sqlstate", None)
        if state is None and getattr(e, "args", None):
            first = e.args[0]
            if isinstance(first, str) and len(first) == 5 and first.isalnum():
                state = first
        # SQLAlchemy appends the whole statement; the first line says enough.
        message = str(e).split(" [SQL:")[0].split("\n")[0]
        error(name, state or "-", f"{type(e).__name__}: {message}")
        traceback.print_exc(file=sys.stderr)
