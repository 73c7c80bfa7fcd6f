//! `sys_user`, `sys_user_group` and `sys_user_grmember`, written from the
//! precomputed directory and the fixed group tree.

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};

use super::common::{self, DAY, NOW, SysCols, SysRow, sys_fields, timestamp, utf8};
use crate::demo::identities::{GROUPS, SERVICE_ACCOUNTS, group_index};
use crate::demo::rng::Rng;
use crate::demo::text::w;
use crate::demo::world::{Table, World};

const AREA_CODES: [&str; 6] = ["212", "312", "512", "619", "416", "646"];

/// Whoever maintains the directory records: the head of IT.
fn admin(world: &World) -> &str {
    world
        .dir
        .user_name(world.dir.group_manager(group_index("IT")))
}

/// When directory record `index` of `rows` was created: spread over the
/// two years before the first task, and up to now.
fn created(r: &mut Rng, index: u64, rows: u64) -> i64 {
    let t = common::opened_at(r, index, rows) - 730 * DAY;
    t.max(common::START - 730 * DAY)
}

pub(crate) fn user_fields() -> Vec<Field> {
    let b = |name: &str| Field::new(name, DataType::Boolean, false);
    let mut f = sys_fields();
    f.extend([
        utf8("user_name", false),
        utf8("first_name", false),
        utf8("last_name", false),
        utf8("name", false),
        utf8("email", false),
        utf8("title", false),
        utf8("department", false),
        utf8("manager", true),
        b("active"),
        b("locked_out"),
        b("web_service_access_only"),
        Field::new("last_login_time", timestamp(), true),
        utf8("phone", true),
    ]);
    f
}

/// Rows `start..start+len` of `sys_user`.
pub(crate) fn user_columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::SysUser;
    let rows = world.rows(table);
    let seed = world.row_seed(table);
    let admin = admin(world);
    let s = |per_row: usize| StringBuilder::with_capacity(len, len * per_row);
    let mut sys = SysCols::new(table.name(), len);
    let (mut user_name, mut first_name, mut last_name, mut name, mut email) =
        (s(16), s(8), s(8), s(16), s(28));
    let (mut title, mut department, mut manager, mut phone) = (s(20), s(10), s(32), s(16));
    let mut active = BooleanBuilder::with_capacity(len);
    let mut locked_out = BooleanBuilder::with_capacity(len);
    let mut ws_only = BooleanBuilder::with_capacity(len);
    let mut last_login = TimestampMicrosecondBuilder::with_capacity(len);

    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let u = &world.dir.users[index as usize];
        let account = u.account.map(|a| &SERVICE_ACCOUNTS[a]);
        let created_on = created(r, index, rows);
        let updated_on = created_on + r.below((NOW - created_on) as u64) as i64;
        let (is_active, is_locked, is_ws_only) = match account {
            Some(a) => (a.active, a.locked_out, a.web_service_access_only),
            None => (r.chance(0.96), r.chance(0.015), false),
        };
        sys.append(SysRow {
            id: u.sys_id,
            created_on,
            updated_on,
            created_by: admin,
            updated_by: admin,
            mod_count: r.below(12) as i32,
        });
        user_name.append_value(&u.user_name);
        first_name.append_value(u.first_name);
        last_name.append_value(u.last_name);
        w(write!(name, "{} {}", u.first_name, u.last_name));
        name.append_value("");
        w(write!(email, "{}@example.com", u.user_name));
        email.append_value("");
        title.append_value(u.title);
        department.append_value(u.department);
        manager.append_option(
            u.manager
                .map(|m| world.user_id(m))
                .as_ref()
                .map(|id| id.as_str()),
        );
        active.append_value(is_active);
        locked_out.append_value(is_locked);
        ws_only.append_value(is_ws_only);
        // Most people signed in recently; a few never did.
        last_login.append_option((account.is_some() || r.chance(0.93)).then(|| {
            common::secs((NOW - (r.log_normal(2.0, 1.5) * DAY as f64) as i64).max(created_on))
        }));
        if account.is_some() {
            phone.append_null();
        } else {
            w(write!(
                phone,
                "+1 {} 555 01{:02}",
                r.pick(&AREA_CODES),
                r.below(100)
            ));
            phone.append_value("");
        }
    }

    let mut out = Vec::new();
    sys.finish(&mut out);
    for b in [
        user_name, first_name, last_name, name, email, title, department, manager,
    ] {
        let mut b = b;
        out.push(Arc::new(b.finish()));
    }
    out.push(Arc::new(active.finish()));
    out.push(Arc::new(locked_out.finish()));
    out.push(Arc::new(ws_only.finish()));
    out.push(Arc::new(last_login.finish()));
    out.push(Arc::new(phone.finish()));
    out
}

pub(crate) fn group_fields() -> Vec<Field> {
    let mut f = sys_fields();
    f.extend([
        utf8("name", false),
        utf8("description", false),
        utf8("manager", false),
        utf8("parent", true),
        Field::new("active", DataType::Boolean, false),
        utf8("email", false),
    ]);
    f
}

/// Rows `start..start+len` of `sys_user_group`: the fixed tree.
pub(crate) fn group_columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::SysUserGroup;
    let seed = world.row_seed(table);
    let admin = admin(world);
    let s = || StringBuilder::with_capacity(len, len * 32);
    let mut sys = SysCols::new(table.name(), len);
    let (mut name, mut description, mut manager, mut parent, mut email) = (s(), s(), s(), s(), s());
    let mut active = BooleanBuilder::with_capacity(len);

    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let g = &GROUPS[index as usize];
        let created_on = common::START - 900 * DAY + r.below((300 * DAY) as u64) as i64;
        sys.append(SysRow {
            id: world.group_id(index as usize),
            created_on,
            updated_on: created_on + r.below((NOW - created_on) as u64) as i64,
            created_by: admin,
            updated_by: admin,
            mod_count: r.below(8) as i32,
        });
        name.append_value(g.name);
        description.append_value(g.description);
        manager.append_value(
            world
                .user_id(world.dir.group_manager(index as usize))
                .as_str(),
        );
        parent.append_option(
            g.parent
                .map(|p| world.group_id(group_index(p)))
                .as_ref()
                .map(|id| id.as_str()),
        );
        active.append_value(g.active);
        for word in g.name.split(' ') {
            w(write!(email, "{}", word.to_ascii_lowercase()));
            w(email.write_char('-'));
        }
        w(email.write_str("team@example.com"));
        email.append_value("");
    }

    let mut out = Vec::new();
    sys.finish(&mut out);
    out.push(Arc::new(name.finish()));
    out.push(Arc::new(description.finish()));
    out.push(Arc::new(manager.finish()));
    out.push(Arc::new(parent.finish()));
    out.push(Arc::new(active.finish()));
    out.push(Arc::new(email.finish()));
    out
}

pub(crate) fn member_fields() -> Vec<Field> {
    let mut f = sys_fields();
    f.extend([utf8("user", false), utf8("group", false)]);
    f
}

/// Rows `start..start+len` of `sys_user_grmember`.
pub(crate) fn member_columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::SysUserGrmember;
    let rows = world.rows(table);
    let seed = world.row_seed(table);
    let admin = admin(world);
    let mut sys = SysCols::new(table.name(), len);
    let mut user = StringBuilder::with_capacity(len, len * 32);
    let mut group = StringBuilder::with_capacity(len, len * 32);

    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let (u, g) = world.dir.memberships[index as usize];
        let created_on = created(r, index, rows);
        sys.append(SysRow {
            id: world.id(table, index),
            created_on,
            updated_on: created_on,
            created_by: admin,
            updated_by: admin,
            mod_count: 0,
        });
        user.append_value(world.user_id(u).as_str());
        group.append_value(world.group_id(usize::from(g)).as_str());
    }

    let mut out = Vec::new();
    sys.finish(&mut out);
    out.push(Arc::new(user.finish()));
    out.push(Arc::new(group.finish()));
    out
}
