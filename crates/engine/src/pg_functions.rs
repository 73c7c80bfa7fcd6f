//! The PostgreSQL functions and catalogs that clients call on connect and
//! when they introspect, answered from the session itself.
//!
//! `pg_catalog` comes from `datafusion-pg-catalog`, built over the session's
//! own catalog list, so `pg_class`, `pg_attribute`, `pg_namespace` hold only
//! what the principal may see. On top of it, functions that must answer
//! for this session replace the library's placeholders: the user name, the
//! settings, and `has_*_privilege`, which answers from the real decisions
//! (a table or column exists for the principal, and only reads are ever
//! granted) — never a blanket true.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{ArrayRef, BooleanArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility, create_udf,
};
use datafusion::prelude::SessionContext;
use datafusion_pg_catalog::pg_catalog::context::{PgCatalogContextProvider, Role};

use crate::session::CATALOG;
use crate::vars::SessionVars;

/// What the principal can see: table -> visible columns.
pub type Visible = Arc<HashMap<String, HashSet<String>>>;

/// Roles known to `pg_roles`: only the session's own account.
#[derive(Debug, Clone)]
struct SessionRoles {
    user: String,
}

#[async_trait::async_trait]
impl PgCatalogContextProvider for SessionRoles {
    async fn roles(&self) -> Vec<String> {
        vec![self.user.clone()]
    }

    async fn role(&self, name: &str) -> Option<Role> {
        (name == self.user).then(|| Role {
            name: self.user.clone(),
            is_superuser: false,
            can_login: true,
            can_create_db: false,
            can_create_role: false,
            can_create_user: false,
            can_replication: false,
            grants: Vec::new(),
            inherited_roles: Vec::new(),
        })
    }
}

/// Installs pg_catalog and the session functions into a session.
pub fn install(
    ctx: &SessionContext,
    user: &str,
    visible: Visible,
    vars: Arc<Mutex<SessionVars>>,
    server_version: &str,
) -> Result<()> {
    crate::pg_setup::setup_pg_catalog(
        ctx,
        CATALOG,
        SessionRoles {
            user: user.to_owned(),
        },
    )?;

    let text = |name: &str, value: &str| constant(name, ScalarValue::Utf8(Some(value.to_owned())));
    ctx.register_udf(text(
        "version",
        &format!("PostgreSQL {server_version} on x86_64-pc-linux-gnu, compiled by rustc, 64-bit"),
    ));
    for name in ["session_user", "current_user", "user", "current_role"] {
        ctx.register_udf(text(name, user));
    }
    ctx.register_udf(text("current_schema", "public"));
    ctx.register_udf(text("current_database", CATALOG));
    ctx.register_udf(text("current_catalog", CATALOG));
    ctx.register_udf(user_by_id(user));
    ctx.register_udf(encoding_to_char());
    ctx.register_udf(like_escape());
    // Every type is in pg_catalog, which is always on the search path.
    ctx.register_udf(ScalarUDF::new_from_impl(Simple {
        name: "pg_type_is_visible",
        signature: Signature::any(1, Volatility::Stable),
        returns: DataType::Boolean,
        body: Arc::new(|args: &[ColumnarValue]| {
            Ok(map_rows(args, |_| Some(ScalarValue::Boolean(Some(true)))))
        }),
    }));
    // Records have no indexes; the catalog's own are not described.
    ctx.register_udf(ScalarUDF::new_from_impl(Simple {
        name: "pg_get_indexdef",
        signature: Signature::variadic_any(Volatility::Stable),
        returns: DataType::Utf8,
        body: Arc::new(|args: &[ColumnarValue]| {
            Ok(map_rows(args, |_| Some(ScalarValue::Utf8(None))))
        }),
    }));
    ctx.register_udf(description("obj_description"));
    ctx.register_udf(description("col_description"));
    ctx.register_udf(description("shobj_description"));
    ctx.register_udf(current_setting(Arc::clone(&vars)));
    ctx.register_udf(set_config(vars));
    for kind in Privilege::ALL {
        ctx.register_udf(ScalarUDF::new_from_impl(HasPrivilege::new(
            kind,
            Arc::clone(&visible),
        )));
    }
    Ok(())
}

/// A function returning one value; Stable so each query sees the session's.
fn constant(name: &str, value: ScalarValue) -> ScalarUDF {
    let ty = value.data_type();
    create_udf(
        name,
        vec![],
        ty,
        Volatility::Stable,
        Arc::new(move |_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(value.clone()))),
    )
}

/// `pg_get_userbyid(oid)`: every owner is the session's own account.
fn user_by_id(user: &str) -> ScalarUDF {
    let user = user.to_owned();
    ScalarUDF::new_from_impl(Simple {
        name: "pg_get_userbyid",
        signature: Signature::any(1, Volatility::Stable),
        returns: DataType::Utf8,
        body: Arc::new(move |args: &[ColumnarValue]| {
            Ok(map_rows(args, |_| {
                Some(ScalarValue::Utf8(Some(user.clone())))
            }))
        }),
    })
}

/// `pg_encoding_to_char(int)`: PostgreSQL's encoding names (`UTF8`, not
/// `UTF-8`: psql and drivers compare them).
fn encoding_to_char() -> ScalarUDF {
    ScalarUDF::new_from_impl(Simple {
        name: "pg_encoding_to_char",
        signature: Signature::any(1, Volatility::Immutable),
        returns: DataType::Utf8,
        body: Arc::new(|args: &[ColumnarValue]| {
            let name = |v: &ScalarValue| {
                let id = match v {
                    ScalarValue::Int16(Some(i)) => Some(i64::from(*i)),
                    ScalarValue::Int32(Some(i)) => Some(i64::from(*i)),
                    ScalarValue::Int64(Some(i)) => Some(*i),
                    _ => None,
                };
                ScalarValue::Utf8(match id {
                    Some(0) => Some("SQL_ASCII".to_owned()),
                    Some(6) => Some("UTF8".to_owned()),
                    _ => None,
                })
            };
            match &args[0] {
                ColumnarValue::Scalar(v) => Ok(ColumnarValue::Scalar(name(v))),
                ColumnarValue::Array(a) if a.is_empty() => Ok(ColumnarValue::Array(
                    datafusion::arrow::array::new_empty_array(&DataType::Utf8),
                )),
                ColumnarValue::Array(a) => {
                    let values = (0..a.len())
                        .map(|i| ScalarValue::try_from_array(a, i).map(|v| name(&v)))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(ColumnarValue::Array(ScalarValue::iter_to_array(values)?))
                }
            }
        }),
    })
}

/// `pg_like_escape(pattern, escape)`: a LIKE pattern written with another
/// escape character, re-escaped with the backslash (the statement rewrite
/// calls it for `LIKE $1 ESCAPE '/'`).
fn like_escape() -> ScalarUDF {
    ScalarUDF::new_from_impl(Simple {
        name: "pg_like_escape",
        signature: Signature::any(2, Volatility::Immutable),
        returns: DataType::Utf8,
        body: Arc::new(|args: &[ColumnarValue]| {
            let esc = text_arg(args, 1)?;
            let mut chars = esc.chars();
            let (Some(esc), None) = (chars.next(), chars.next()) else {
                return exec_err!("invalid escape string: must be one character");
            };
            let convert = |v: &ScalarValue| match v {
                ScalarValue::Utf8(Some(p))
                | ScalarValue::Utf8View(Some(p))
                | ScalarValue::LargeUtf8(Some(p)) => {
                    ScalarValue::Utf8(Some(crate::compat::reescape(p, esc)))
                }
                _ => ScalarValue::Utf8(None),
            };
            match &args[0] {
                ColumnarValue::Scalar(v) => Ok(ColumnarValue::Scalar(convert(v))),
                ColumnarValue::Array(a) if a.is_empty() => Ok(ColumnarValue::Array(
                    datafusion::arrow::array::new_empty_array(&DataType::Utf8),
                )),
                ColumnarValue::Array(a) => {
                    let values = (0..a.len())
                        .map(|i| ScalarValue::try_from_array(a, i).map(|v| convert(&v)))
                        .collect::<Result<Vec<_>>>()?;
                    Ok(ColumnarValue::Array(ScalarValue::iter_to_array(values)?))
                }
            }
        }),
    })
}

/// Comments on objects: none are stored.
fn description(name: &'static str) -> ScalarUDF {
    ScalarUDF::new_from_impl(Simple {
        name,
        signature: Signature::variadic_any(Volatility::Stable),
        returns: DataType::Utf8,
        body: Arc::new(|args: &[ColumnarValue]| {
            Ok(map_rows(args, |_| Some(ScalarValue::Utf8(None))))
        }),
    })
}

/// `current_setting(name [, missing_ok])` from the session's parameters.
fn current_setting(vars: Arc<Mutex<SessionVars>>) -> ScalarUDF {
    ScalarUDF::new_from_impl(Simple {
        name: "current_setting",
        signature: Signature::variadic_any(Volatility::Stable),
        returns: DataType::Utf8,
        body: Arc::new(move |args: &[ColumnarValue]| {
            let name = text_arg(args, 0)?;
            let missing_ok = matches!(
                args.get(1),
                Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))))
            );
            let vars = vars.lock().expect("session vars");
            match (vars.get(&name), missing_ok) {
                (Ok((_, v)), _) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(v)))),
                (Err(_), true) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
                (Err(e), false) => Err(datafusion::error::DataFusionError::External(Box::new(e))),
            }
        }),
    })
}

/// `set_config(name, value, is_local)`: sets a session parameter.
fn set_config(vars: Arc<Mutex<SessionVars>>) -> ScalarUDF {
    ScalarUDF::new_from_impl(Simple {
        name: "set_config",
        signature: Signature::any(3, Volatility::Volatile),
        returns: DataType::Utf8,
        body: Arc::new(move |args: &[ColumnarValue]| {
            let name = text_arg(args, 0)?;
            let value = text_arg(args, 1)?;
            // The same refusal, with the same SQLSTATE, as SET.
            let engine_error = |e| datafusion::error::DataFusionError::External(Box::new(e));
            let mut vars = vars.lock().expect("session vars");
            vars.set(&name, &value).map_err(engine_error)?;
            let (_, now) = vars.get(&name).map_err(engine_error)?;
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(now))))
        }),
    })
}

fn text_arg(args: &[ColumnarValue], i: usize) -> Result<String> {
    match args.get(i) {
        Some(ColumnarValue::Scalar(v)) if !v.is_null() => Ok(v.to_string()),
        _ => exec_err!("argument {} must be a constant text", i + 1),
    }
}

/// Applies `f` to each row of the first argument (or once for scalars).
fn map_rows(args: &[ColumnarValue], f: impl Fn(usize) -> Option<ScalarValue>) -> ColumnarValue {
    match args.iter().find_map(|a| match a {
        ColumnarValue::Array(arr) => Some(arr.len()),
        _ => None,
    }) {
        None => ColumnarValue::Scalar(f(0).unwrap_or(ScalarValue::Null)),
        Some(n) => {
            let values: Vec<ScalarValue> = (0..n)
                .map(|i| f(i).unwrap_or(ScalarValue::Utf8(None)))
                .collect();
            ColumnarValue::Array(ScalarValue::iter_to_array(values).expect("uniform values"))
        }
    }
}

type Body = Arc<dyn Fn(&[ColumnarValue]) -> Result<ColumnarValue> + Send + Sync>;

/// A scalar function from a closure, with a chosen signature.
struct Simple {
    name: &'static str,
    signature: Signature,
    returns: DataType,
    body: Body,
}

impl std::fmt::Debug for Simple {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Simple {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for Simple {}
impl std::hash::Hash for Simple {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state)
    }
}

impl ScalarUDFImpl for Simple {
    fn name(&self) -> &str {
        self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.returns.clone())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        (self.body)(&args.args)
    }
}

/// The `has_*_privilege` family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Privilege {
    Table,
    AnyColumn,
    Column,
    Schema,
    Database,
}

impl Privilege {
    const ALL: [Privilege; 5] = [
        Privilege::Table,
        Privilege::AnyColumn,
        Privilege::Column,
        Privilege::Schema,
        Privilege::Database,
    ];

    fn name(self) -> &'static str {
        match self {
            Privilege::Table => "has_table_privilege",
            Privilege::AnyColumn => "has_any_column_privilege",
            Privilege::Column => "has_column_privilege",
            Privilege::Schema => "has_schema_privilege",
            Privilege::Database => "has_database_privilege",
        }
    }

    /// Arguments after the optional user: object [, column], privilege.
    fn arity(self) -> usize {
        if self == Privilege::Column { 3 } else { 2 }
    }
}

#[derive(Debug)]
struct HasPrivilege {
    kind: Privilege,
    visible: Visible,
    signature: Signature,
}

impl PartialEq for HasPrivilege {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}
impl Eq for HasPrivilege {}
impl std::hash::Hash for HasPrivilege {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.kind.hash(state)
    }
}

impl HasPrivilege {
    fn new(kind: Privilege, visible: Visible) -> HasPrivilege {
        let n = kind.arity();
        HasPrivilege {
            kind,
            visible,
            signature: Signature::one_of(
                vec![TypeSignature::Any(n), TypeSignature::Any(n + 1)],
                Volatility::Stable,
            ),
        }
    }

    /// Decides one call. Objects named by OID come from this session's
    /// pg_catalog, which lists only what the principal may see.
    fn decide(&self, object: &ScalarValue, column: Option<&ScalarValue>, privilege: &str) -> bool {
        // Only reads are ever granted: the API is read-only.
        let read = privilege
            .split(',')
            .map(|p| p.trim().to_ascii_uppercase())
            .map(|p| p.trim_end_matches(" WITH GRANT OPTION").to_owned())
            .all(|p| matches!(p.as_str(), "SELECT" | "USAGE" | "CONNECT"));
        if !read {
            return false;
        }
        let by_oid = matches!(
            object,
            ScalarValue::Int32(_) | ScalarValue::Int64(_) | ScalarValue::UInt32(_)
        );
        match self.kind {
            Privilege::Database => true,
            Privilege::Schema => {
                by_oid || {
                    let s = object.to_string().to_lowercase();
                    s == "public" || s == "pg_catalog" || s == "information_schema"
                }
            }
            Privilege::Table | Privilege::AnyColumn => by_oid || self.table(object).is_some(),
            Privilege::Column => match (self.table(object), column) {
                (Some(cols), Some(c)) => cols.contains(&c.to_string()),
                (None, Some(_)) => by_oid,
                _ => false,
            },
        }
    }

    fn table(&self, object: &ScalarValue) -> Option<&HashSet<String>> {
        let name = object.to_string();
        let name = name.trim_matches('"');
        let short = name.strip_prefix("public.").unwrap_or(name);
        self.visible.get(short)
    }
}

impl ScalarUDFImpl for HasPrivilege {
    fn name(&self) -> &str {
        self.kind.name()
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        // Skip the optional leading user argument: every check is for the
        // session's own account.
        let skip = args.args.len() - self.kind.arity();
        let args = &args.args[skip..];
        let value_at = |arg: &ColumnarValue, row: usize| -> Result<ScalarValue> {
            match arg {
                ColumnarValue::Scalar(v) => Ok(v.clone()),
                ColumnarValue::Array(a) => ScalarValue::try_from_array(a, row),
            }
        };
        let scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if scalar { 1 } else { n };
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let object = value_at(&args[0], row)?;
            let (column, privilege) = if self.kind == Privilege::Column {
                (Some(value_at(&args[1], row)?), value_at(&args[2], row)?)
            } else {
                (None, value_at(&args[1], row)?)
            };
            if object.is_null() || privilege.is_null() {
                out.push(None);
                continue;
            }
            out.push(Some(self.decide(
                &object,
                column.as_ref(),
                &privilege.to_string(),
            )));
        }
        let array: ArrayRef = Arc::new(BooleanArray::from(out));
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
        } else {
            ColumnarValue::Array(array)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible() -> Visible {
        Arc::new(HashMap::from([(
            "incident".to_owned(),
            HashSet::from(["number".to_owned()]),
        )]))
    }

    #[test]
    fn privileges_follow_the_catalog_and_only_reads_are_granted() {
        let t = HasPrivilege::new(Privilege::Table, visible());
        let s = |v: &str| ScalarValue::Utf8(Some(v.into()));
        assert!(t.decide(&s("incident"), None, "SELECT"));
        assert!(t.decide(&s("public.incident"), None, "select"));
        assert!(!t.decide(&s("incident"), None, "INSERT"));
        assert!(!t.decide(&s("incident"), None, "SELECT,UPDATE"));
        assert!(!t.decide(&s("sn_hr_core_case"), None, "SELECT"));
        let c = HasPrivilege::new(Privilege::Column, visible());
        assert!(c.decide(&s("incident"), Some(&s("number")), "SELECT"));
        assert!(!c.decide(&s("incident"), Some(&s("salary")), "SELECT"));
    }
}
