//! Corrections to `datafusion-pg-catalog`'s static catalog tables, and the
//! functions that need their contents.
//!
//! The library stores some PostgreSQL columns as display text, which breaks
//! the joins and array functions drivers run over them:
//! - `pg_type.typinput`, `typreceive`, … are `regproc` in PostgreSQL: an oid
//!   that drivers join to `pg_proc.oid` (npgsql) or compare with
//!   `'array_in'::regproc` (pgjdbc, DBeaver). They become the oid.
//! - `pg_index.indkey` (int2vector), `indclass` (oidvector), … and
//!   `pg_constraint.conkey`/`confkey` (int2[]) are arrays that drivers
//!   `unnest`, `= ANY(...)` or expand. They become lists.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int16Builder, Int32Array, Int32Builder, ListArray, ListBuilder,
    RecordBatch, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Int32Type, Schema};
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_pg_catalog::pg_catalog::{ArrowTable, PgCatalogStaticTables};

/// `regproc` columns of pg_type.
const REGPROC_COLUMNS: [&str; 8] = [
    "typinput",
    "typoutput",
    "typreceive",
    "typsend",
    "typmodin",
    "typmodout",
    "typanalyze",
    "typsubscript",
];

/// Type names and the oids `to_regtype` resolves them to.
#[derive(Debug, Default)]
pub struct TypeNames {
    by_name: HashMap<String, i32>,
    array_of: HashMap<i32, i32>,
}

impl TypeNames {
    /// The oid of a type name as `to_regtype` reads it: SQL spellings
    /// (`integer`, `character varying`), internal names (`int4`), an
    /// optional `pg_catalog.` prefix and a trailing `[]`.
    pub fn resolve(&self, name: &str) -> Option<i32> {
        let name = name.trim().to_lowercase();
        let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
        if let Some(element) = name.strip_suffix("[]") {
            return self.array_of.get(&self.resolve(element)?).copied();
        }
        // Modifiers do not change the type: `varchar(20)`, `numeric(10,2)`.
        let base = name.split('(').next().unwrap_or(name).trim();
        let internal = match base {
            "integer" | "int" => "int4",
            "smallint" => "int2",
            "bigint" => "int8",
            "real" => "float4",
            "double precision" => "float8",
            "boolean" => "bool",
            "character varying" => "varchar",
            "character" | "char" => "bpchar",
            "decimal" => "numeric",
            "timestamp" | "timestamp without time zone" => "timestamp",
            "timestamp with time zone" => "timestamptz",
            "time" | "time without time zone" => "time",
            "time with time zone" => "timetz",
            "bit varying" => "varbit",
            other => other,
        };
        self.by_name.get(internal).copied()
    }
}

/// The static tables with the corrections applied, and the type names.
pub fn corrected(mut tables: PgCatalogStaticTables) -> Result<(PgCatalogStaticTables, TypeNames)> {
    let procs = read(&tables.pg_proc)?;
    let mut proc_oids: HashMap<String, i32> = HashMap::new();
    for b in &procs {
        let names = text(b, "proname")?;
        let oids = int32(b, "oid")?;
        for i in 0..b.num_rows() {
            if !names.is_null(i) && !oids.is_null(i) {
                proc_oids
                    .entry(names.value(i).to_owned())
                    .and_modify(|o| *o = (*o).min(oids.value(i)))
                    .or_insert(oids.value(i));
            }
        }
    }

    let types = read(&tables.pg_type)?;
    let mut names = TypeNames::default();
    for b in &types {
        let typname = text(b, "typname")?;
        let oid = int32(b, "oid")?;
        let typarray = int32(b, "typarray")?;
        for i in 0..b.num_rows() {
            names
                .by_name
                .entry(typname.value(i).to_owned())
                .or_insert(oid.value(i));
            if typarray.value(i) != 0 {
                names.array_of.insert(oid.value(i), typarray.value(i));
            }
        }
    }
    tables.pg_type = Arc::new(rewrite(&types, |name, column| {
        if !REGPROC_COLUMNS.contains(&name) || column.data_type() != &DataType::Utf8 {
            return None;
        }
        let column = column.as_string::<i32>();
        let oids: Int32Array = (0..column.len())
            .map(|i| {
                (!column.is_null(i)).then(|| proc_oids.get(column.value(i)).copied().unwrap_or(0))
            })
            .collect();
        Some((DataType::Int32, Arc::new(oids) as ArrayRef))
    })?);

    let index = read(&tables.pg_index)?;
    tables.pg_index = Arc::new(rewrite(&index, |name, column| match name {
        "indkey" | "indoption" => Some(int_list(column, true)),
        "indclass" | "indcollation" => Some(int_list(column, false)),
        _ => None,
    })?);

    let constraint = read(&tables.pg_constraint)?;
    tables.pg_constraint = Arc::new(rewrite(&constraint, |name, column| match name {
        "conkey" | "confkey" => Some(int_list(column, true)),
        _ => None,
    })?);
    Ok((tables, names))
}

fn read(table: &ArrowTable) -> Result<Vec<RecordBatch>> {
    let mem = table.try_into_memtable()?;
    let mut out = Vec::new();
    for partition in &mem.batches {
        let guard = partition
            .try_read()
            .map_err(|e| DataFusionError::Internal(format!("static catalog table: {e}")))?;
        out.extend(guard.iter().cloned());
    }
    Ok(out)
}

fn text<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a datafusion::arrow::array::StringArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| DataFusionError::Internal(format!("static catalog: no text column {name}")))
}

fn int32<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a Int32Array> {
    b.column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<Int32Type>())
        .ok_or_else(|| DataFusionError::Internal(format!("static catalog: no int column {name}")))
}

/// A text column of integers (`1 2` or `[1, 2]`) as a list of int2 or oid.
fn int_list(column: &ArrayRef, int2: bool) -> (DataType, ArrayRef) {
    let element = if int2 {
        DataType::Int16
    } else {
        DataType::Int32
    };
    let Some(column) = column.as_string_opt::<i32>() else {
        return (column.data_type().clone(), Arc::clone(column));
    };
    let numbers = |s: &str| -> Vec<i64> {
        s.split(|c: char| !(c.is_ascii_digit() || c == '-'))
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let list: ArrayRef = if int2 {
        let mut b = ListBuilder::new(Int16Builder::new());
        for i in 0..column.len() {
            if column.is_null(i) {
                b.append(false);
            } else {
                for n in numbers(column.value(i)) {
                    b.values().append_value(n as i16);
                }
                b.append(true);
            }
        }
        Arc::new(b.finish())
    } else {
        let mut b = ListBuilder::new(Int32Builder::new());
        for i in 0..column.len() {
            if column.is_null(i) {
                b.append(false);
            } else {
                for n in numbers(column.value(i)) {
                    b.values().append_value(n as i32);
                }
                b.append(true);
            }
        }
        Arc::new(b.finish())
    };
    (
        DataType::List(Arc::new(Field::new("item", element, true))),
        list,
    )
}

/// The batches with some columns replaced, as a static table again.
fn rewrite(
    batches: &[RecordBatch],
    mut replace: impl FnMut(&str, &ArrayRef) -> Option<(DataType, ArrayRef)>,
) -> Result<ArrowTable> {
    let Some(first) = batches.first() else {
        return Err(DataFusionError::Internal(
            "empty static catalog table".into(),
        ));
    };
    let mut out = Vec::with_capacity(batches.len());
    let mut schema = None;
    for b in batches {
        let mut fields = Vec::with_capacity(b.num_columns());
        let mut columns = Vec::with_capacity(b.num_columns());
        for (field, column) in first.schema().fields().iter().zip(b.columns()) {
            match replace(field.name(), column) {
                Some((data_type, array)) => {
                    fields.push(Field::new(field.name(), data_type, true));
                    columns.push(array);
                }
                None => {
                    fields.push(field.as_ref().clone());
                    columns.push(Arc::clone(column));
                }
            }
        }
        let s = Arc::new(Schema::new_with_metadata(
            fields,
            first.schema().metadata().clone(),
        ));
        out.push(RecordBatch::try_new(Arc::clone(&s), columns)?);
        schema = Some(s);
    }
    let schema = schema.expect("at least one batch");
    let mut bytes = Vec::new();
    {
        let mut w = FileWriter::try_new(&mut bytes, &schema)?;
        for b in &out {
            w.write(b)?;
        }
        w.finish()?;
    }
    ArrowTable::from_ipc_data(bytes)
}

/// `to_regtype(text)`: the type's oid, or NULL for an unknown name.
pub fn to_regtype(names: Arc<TypeNames>) -> ScalarUDF {
    ScalarUDF::new_from_impl(ToRegtype {
        names,
        signature: Signature::exact(vec![DataType::Utf8], Volatility::Stable),
    })
}

#[derive(Debug)]
struct ToRegtype {
    names: Arc<TypeNames>,
    signature: Signature,
}

impl PartialEq for ToRegtype {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for ToRegtype {}
impl std::hash::Hash for ToRegtype {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "to_regtype".hash(state)
    }
}

impl ScalarUDFImpl for ToRegtype {
    fn name(&self) -> &str {
        "to_regtype"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        match &args.args[0] {
            ColumnarValue::Scalar(v) => {
                let name = match v {
                    ScalarValue::Utf8(Some(s)) => Some(s.as_str()),
                    _ => None,
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Int32(
                    name.and_then(|n| self.names.resolve(n)),
                )))
            }
            ColumnarValue::Array(a) => {
                let Some(a) = a.as_string_opt::<i32>() else {
                    return exec_err!("to_regtype expects text");
                };
                let out: Int32Array = a
                    .iter()
                    .map(|n| n.and_then(|n| self.names.resolve(n)))
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(out)))
            }
        }
    }
}

/// `_pg_expandarray(array)`: each element with its 1-based position, as a
/// list of `(x, n)` records (the rewrite in `compat` unnests it into rows,
/// as PostgreSQL's set-returning function gives them).
pub fn pg_expandarray() -> ScalarUDF {
    ScalarUDF::new_from_impl(ExpandArray {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExpandArray {
    signature: Signature,
}

fn expanded_fields(element: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("x", element.clone(), true),
        Field::new("n", DataType::Int32, false),
    ])
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        "_pg_expandarray"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let DataType::List(element) = &args[0] else {
            return exec_err!("_pg_expandarray expects an array, got {}", args[0]);
        };
        Ok(DataType::List(Arc::new(Field::new(
            "item",
            DataType::Struct(expanded_fields(element.data_type())),
            true,
        ))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let array = args.args[0].to_array(rows)?;
        let Some(list) = array.as_list_opt::<i32>() else {
            return exec_err!("_pg_expandarray expects an array");
        };
        let offsets = list.offsets();
        let values = list.values();
        let mut positions = vec![0i32; values.len()];
        for w in offsets.windows(2) {
            for (k, j) in (w[0]..w[1]).enumerate() {
                positions[j as usize] = k as i32 + 1;
            }
        }
        let fields = expanded_fields(values.data_type());
        let records = StructArray::try_new(
            fields.clone(),
            vec![
                Arc::clone(values),
                Arc::new(Int32Array::from(positions)) as ArrayRef,
            ],
            None,
        )?;
        let out = ListArray::try_new(
            Arc::new(Field::new("item", DataType::Struct(fields), true)),
            offsets.clone(),
            Arc::new(records),
            list.nulls().cloned(),
        )?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corrected_tables() -> (PgCatalogStaticTables, TypeNames) {
        corrected(PgCatalogStaticTables::try_new().unwrap()).unwrap()
    }

    #[test]
    fn type_names_resolve_like_postgresql() {
        let (_, names) = corrected_tables();
        assert_eq!(names.resolve("int4"), Some(23));
        assert_eq!(names.resolve("integer"), Some(23));
        assert_eq!(names.resolve("pg_catalog.int4"), Some(23));
        assert_eq!(names.resolve("int4[]"), Some(1007));
        assert_eq!(names.resolve("character varying(20)"), Some(1043));
        assert_eq!(names.resolve("timestamp with time zone"), Some(1184));
        assert_eq!(names.resolve("no_such_type"), None);
    }

    #[test]
    fn regproc_and_array_columns_are_typed() {
        let (tables, _) = corrected_tables();
        let types = read(&tables.pg_type).unwrap();
        let b = &types[0];
        let oid = int32(b, "oid").unwrap();
        let input = int32(b, "typinput").unwrap();
        let bool_row = (0..b.num_rows()).find(|&i| oid.value(i) == 16).unwrap();
        // boolin is pg_proc oid 1242 in PostgreSQL.
        assert_eq!(input.value(bool_row), 1242);

        let index = read(&tables.pg_index).unwrap();
        let key = index[0].column_by_name("indkey").unwrap();
        assert!(matches!(key.data_type(), DataType::List(f) if f.data_type() == &DataType::Int16));
        let constraint = read(&tables.pg_constraint).unwrap();
        let conkey = constraint[0].column_by_name("conkey").unwrap();
        assert!(matches!(conkey.data_type(), DataType::List(_)));
    }
}
