//! `sqlgate explain-access`: why an account may or may not see a table, a
//! field, or one record — every candidate ACL, level by level, with what
//! matched, what passed and why. The traces are the objects the engine's
//! decisions are made of, printed.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use datafusion::arrow::array::{Array, RecordBatch, StringArray};
use datafusion::arrow::compute::kernels::cmp::eq;
use datafusion::arrow::compute::{cast, filter_record_batch};
use datafusion::arrow::datatypes::DataType;
use datafusion::physical_plan::collect;
use datafusion::prelude::SessionContext;
use sqlgate_acl::access::{Compiler, FieldAccess, RecordJudge, dynamic_context};
use sqlgate_acl::eval::{RolesOnly, Verdict, field_candidates, table_candidates};
use sqlgate_acl::{Operation, Policy, Principal, Tables};
use sqlgate_records::{Registry, TableDef};

use crate::config::Config;
use crate::serve::{BoxError, load_policy};

pub struct Request<'a> {
    pub account: &'a str,
    pub table: &'a str,
    pub field: Option<&'a str>,
    pub sys_id: Option<&'a str>,
}

pub async fn run(config_path: &Path, req: Request<'_>) -> Result<ExitCode, BoxError> {
    let config = Config::load(config_path)?;
    let registry = config.storage.registry().await?;
    let tables = sqlgate_engine::acl_tables(&registry);
    let policy = load_policy(&config.policy.file, &tables)?;
    let Some(account) = policy.account(req.account) else {
        println!(
            "no account named {:?}: every login as it fails (28P01)",
            req.account
        );
        return Ok(ExitCode::FAILURE);
    };
    let principal = policy.principal(req.account).expect("the account exists");
    println!(
        "account {} (sys_id {})",
        principal.user_name, principal.sys_id
    );
    println!(
        "  effective roles: {}",
        principal
            .roles
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    );
    let groups: Vec<String> = principal
        .groups
        .iter()
        .map(|g| format!("{} ({})", g.name, g.sys_id))
        .collect();
    println!(
        "  groups: {}",
        if groups.is_empty() {
            "none".into()
        } else {
            groups.join(", ")
        }
    );
    println!(
        "  privileged mode: {}",
        if principal.privileged() {
            "yes: row and field checks are off, the table gate stays"
        } else {
            "no"
        }
    );
    match policy.connect_check(account, &principal) {
        Ok(()) => println!("  may connect: yes"),
        Err(r) => println!("  may connect: NO ({r}; login answers 28000)"),
    }
    println!();

    let Some(def) = registry.get(req.table) else {
        println!("table {}: not stored; queries answer 42P01", req.table);
        return Ok(ExitCode::FAILURE);
    };
    let gate = policy.table_gate(&tables, &principal, req.table);
    println!("{gate}\n");

    if let Some(field) = req.field {
        explain_field(&policy, &tables, &principal, def, field);
    }
    if let Some(sys_id) = req.sys_id {
        explain_record(
            &policy, &tables, &principal, &registry, req.table, sys_id, req.field,
        )
        .await?;
    }
    Ok(if gate.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn compiler<'a>(
    policy: &'a Policy,
    tables: &'a Tables,
    principal: &'a Principal,
    class: &TableDef,
) -> Compiler<'a> {
    Compiler {
        policy,
        tables,
        principal,
        class: class.name.clone(),
        schema: class.schema.as_ref().clone(),
        dynamic: dynamic_context(principal),
    }
}

fn explain_field(
    policy: &Policy,
    tables: &Tables,
    principal: &Principal,
    def: &TableDef,
    field: &str,
) {
    if def.schema.field_with_name(field).is_err() {
        println!("field {}.{field}: no such column", def.name);
        return;
    }
    let trace = policy.evaluate(
        Operation::Read,
        &format!("{}.{field}", def.name),
        &field_candidates(tables, &def.name, field),
        Verdict::Pass,
        &RolesOnly(principal),
    );
    println!("{trace}");
    let outcome = match compiler(policy, tables, principal, def).field(field) {
        Ok(FieldAccess::Visible) => "visible in every record".to_owned(),
        Ok(FieldAccess::Masked(e)) => format!("in the schema, NULL where this does not hold: {e}"),
        Ok(FieldAccess::Hidden) => "absent from the account's schema (42703)".to_owned(),
        Err(e) => format!("cannot be compiled ({e}): the table is withheld"),
    };
    println!("  => field {field}: {outcome}\n");
}

/// Finds the record among the table's classes, then judges it.
async fn explain_record(
    policy: &Policy,
    tables: &Tables,
    principal: &Principal,
    registry: &Registry,
    table: &str,
    sys_id: &str,
    field: Option<&str>,
) -> Result<(), BoxError> {
    let ctx = SessionContext::new();
    for class in registry.classes(table) {
        let Some(record) = find(&ctx, class, sys_id).await? else {
            continue;
        };
        println!("record {sys_id}: class {}", class.name);
        if class.name != table && !policy.read_possible(tables, principal, &class.name) {
            println!(
                "  read on class {} fails on roles: the record never appears in {table}",
                class.name
            );
        }
        let c = compiler(policy, tables, principal, class);
        let judge = RecordJudge {
            compiler: &c,
            record,
        };
        if principal.privileged() {
            println!("  privileged mode: the record and all its fields are returned");
            return Ok(());
        }
        let trace = policy.evaluate(
            Operation::Read,
            &format!("{} record {sys_id}", class.name),
            &table_candidates(tables, Operation::Read, &class.name),
            Verdict::Fail,
            &judge,
        );
        println!("{trace}");
        println!(
            "  => record {}\n",
            if trace.verdict == Verdict::Pass {
                "READABLE"
            } else {
                "HIDDEN"
            }
        );
        let fields: Vec<String> = match field {
            Some(f) => vec![f.to_owned()],
            None => class
                .schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
        };
        for f in fields {
            let trace = policy.evaluate(
                Operation::Read,
                &format!("{}.{f}", class.name),
                &field_candidates(tables, &class.name, &f),
                Verdict::Pass,
                &judge,
            );
            let shown = if trace.verdict == Verdict::Pass {
                "shown"
            } else {
                "NULL"
            };
            if field.is_some() || !trace.levels.is_empty() {
                println!("{trace}\n  => {f}: {shown}\n");
            }
        }
        return Ok(());
    }
    println!("record {sys_id}: not found in {table} or its child tables");
    Ok(())
}

async fn find(
    ctx: &SessionContext,
    class: &Arc<TableDef>,
    sys_id: &str,
) -> Result<Option<RecordBatch>, BoxError> {
    let columns: Vec<&str> = class
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    let plan = class
        .scan_columns(&ctx.state(), &columns, &[], &[], false, None)
        .await?;
    for batch in collect(plan, ctx.task_ctx()).await? {
        let ids = cast(
            batch.column_by_name("sys_id").ok_or("no sys_id column")?,
            &DataType::Utf8,
        )?;
        let ids = ids
            .as_any()
            .downcast_ref::<StringArray>()
            .ok_or("sys_id is not text")?;
        let wanted = StringArray::new_scalar(sys_id);
        let mask = eq(ids, &wanted)?;
        if mask.true_count() > 0 {
            let hit = filter_record_batch(&batch, &mask)?;
            return Ok(Some(hit.slice(0, 1)));
        }
    }
    Ok(None)
}
