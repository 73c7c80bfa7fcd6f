//! One module per table: its Arrow schema and a function building the
//! columns of any contiguous range of its rows.

mod change;
mod cmdb;
pub(crate) mod common;
mod hr_case;
mod incident;
mod kb;
mod people;
mod problem;
mod task;

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{Schema, SchemaRef};

use super::world::{Table, World};

/// The Arrow schema of `t`'s files.
pub(crate) fn schema(t: Table) -> SchemaRef {
    let fields = match t {
        Table::SysUser => people::user_fields(),
        Table::SysUserGroup => people::group_fields(),
        Table::SysUserGrmember => people::member_fields(),
        Table::Task => task::task_fields(),
        Table::Incident => incident::fields(),
        Table::Problem => problem::fields(),
        Table::ChangeRequest => change::fields(),
        Table::HrCase => hr_case::fields(),
        Table::CmdbCi => cmdb::fields(),
        Table::KbKnowledge => kb::fields(),
    };
    Arc::new(Schema::new(fields))
}

/// Rows `start..start+len` of `t`, one array per schema field.
pub(crate) fn columns(t: Table, world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    match t {
        Table::SysUser => people::user_columns(world, start, len),
        Table::SysUserGroup => people::group_columns(world, start, len),
        Table::SysUserGrmember => people::member_columns(world, start, len),
        Table::Task => task::columns(world, start, len),
        Table::Incident => incident::columns(world, start, len),
        Table::Problem => problem::columns(world, start, len),
        Table::ChangeRequest => change::columns(world, start, len),
        Table::HrCase => hr_case::columns(world, start, len),
        Table::CmdbCi => cmdb::columns(world, start, len),
        Table::KbKnowledge => kb::columns(world, start, len),
    }
}
