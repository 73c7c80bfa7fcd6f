//! `cmdb_ci`: servers, network gear, laptops, printers and storage.

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Decimal128Builder, Int32Builder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};

use super::common::{self, DAY, NOW, NOW_DAY, SysCols, SysRow, sys_fields, utf8};
use crate::demo::identities::group_index;
use crate::demo::rng::Rng;
use crate::demo::text::{Fill, w};
use crate::demo::vocab::CI_KINDS;
use crate::demo::world::{Table, World};

/// 2018-01-01, the oldest purchase.
const FIRST_PURCHASE_DAY: i32 = 17_532;
pub(crate) const COST_PRECISION: u8 = 12;
pub(crate) const COST_SCALE: i8 = 2;

pub(crate) fn fields() -> Vec<Field> {
    let int = |name: &str| Field::new(name, DataType::Int32, false);
    let mut f = sys_fields();
    f.extend([
        utf8("name", false),
        utf8("serial_number", false),
        utf8("ip_address", true),
        int("operational_status"),
        utf8("manufacturer", false),
        utf8("model_id", false),
        utf8("location", false),
        utf8("owned_by", true),
        utf8("support_group", false),
        Field::new(
            "cost",
            DataType::Decimal128(COST_PRECISION, COST_SCALE),
            false,
        ),
        Field::new("purchase_date", DataType::Date32, false),
        int("install_status"),
    ]);
    f
}

/// Per kind (in `CI_KINDS` order): how common, who supports it, price range
/// in dollars.
const KIND_INFO: [(u32, &str, (i64, i64)); 8] = [
    (15, "Cloud Operations", (6_000, 18_000)),
    (8, "Database", (9_000, 30_000)),
    (8, "Cloud Operations", (7_000, 20_000)),
    (3, "Network", (15_000, 60_000)),
    (10, "Network", (400, 1_200)),
    (40, "Hardware", (900, 3_200)),
    (8, "Hardware", (700, 6_000)),
    (2, "Cloud Operations", (40_000, 250_000)),
];

/// Rows `start..start+len` of `cmdb_ci`.
pub(crate) fn columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::CmdbCi;
    let seed = world.row_seed(table);
    let kinds: Vec<(usize, u32)> = KIND_INFO
        .iter()
        .enumerate()
        .map(|(i, k)| (i, k.0))
        .collect();
    let s = |per_row: usize| StringBuilder::with_capacity(len, len * per_row);
    let mut sys = SysCols::new(table.name(), len);
    let (mut name, mut serial, mut ip, mut manufacturer, mut model) =
        (s(14), s(10), s(12), s(6), s(14));
    let (mut location, mut owned_by, mut support_group) = (s(8), s(32), s(32));
    let mut operational_status = Int32Builder::with_capacity(len);
    let mut install_status = Int32Builder::with_capacity(len);
    let mut cost = Decimal128Builder::with_capacity(len);
    let mut purchase_date = Date32Builder::with_capacity(len);

    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let kind = r.weighted(&kinds);
        let (prefix, makers, models) = CI_KINDS[kind];
        let (_, group, (lo, hi)) = KIND_INFO[kind];
        let fill = Fill::draw(r, group);
        let purchased = common::day_between(r, FIRST_PURCHASE_DAY, NOW_DAY);
        let created_on = i64::from(purchased) * DAY + r.below(DAY as u64) as i64;
        let owner = if prefix == "LT" {
            world.dir.person(r)
        } else {
            world.dir.manager(r)
        };
        sys.append(SysRow {
            id: world.id(table, index),
            created_on,
            updated_on: created_on + r.below((NOW - created_on) as u64) as i64,
            created_by: world.dir.user_name(world.dir.member(r, group_index(group))),
            updated_by: world.dir.user_name(world.dir.member(r, group_index(group))),
            mod_count: r.below(20) as i32,
        });

        w(write!(name, "{prefix}-{:05}", index + 1));
        name.append_value("");
        for _ in 0..10 {
            const ALNUM: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
            w(serial.write_char(char::from(ALNUM[r.below(36) as usize])));
        }
        serial.append_value("");
        if prefix == "LT" {
            ip.append_null();
        } else {
            let host = index + 1;
            w(write!(
                ip,
                "10.{}.{}.{}",
                (host >> 16) & 0xFF,
                (host >> 8) & 0xFF,
                host & 0xFF
            ));
            ip.append_value("");
        }
        let maker = r.below(makers.len() as u64) as usize;
        manufacturer.append_value(makers[maker]);
        model.append_value(models[maker.min(models.len() - 1)]);
        location.append_value(fill.site());
        // Operational 1, Non-Operational 2, Repair in Progress 3, DR Standby
        // 4, Ready 5, Retired 6; install status follows.
        let op = r.weighted(&[(1, 85), (2, 4), (3, 2), (4, 2), (5, 4), (6, 3)]);
        let install = match op {
            3 => 5,
            5 => 6,
            6 => 7,
            _ => r.weighted(&[(1, 97), (3, 3)]),
        };
        operational_status.append_value(op);
        install_status.append_value(install);
        if r.chance(0.95) {
            owned_by.append_value(world.user_id(owner).as_str());
        } else {
            owned_by.append_null();
        }
        support_group.append_value(world.group_id(group_index(group)).as_str());
        cost.append_value(i128::from(r.range(lo, hi)) * 100 + i128::from(r.below(100)));
        purchase_date.append_value(purchased);
    }

    let mut out = Vec::new();
    sys.finish(&mut out);
    out.push(Arc::new(name.finish()));
    out.push(Arc::new(serial.finish()));
    out.push(Arc::new(ip.finish()));
    out.push(Arc::new(operational_status.finish()));
    out.push(Arc::new(manufacturer.finish()));
    out.push(Arc::new(model.finish()));
    out.push(Arc::new(location.finish()));
    out.push(Arc::new(owned_by.finish()));
    out.push(Arc::new(support_group.finish()));
    out.push(Arc::new(
        cost.finish()
            .with_precision_and_scale(COST_PRECISION, COST_SCALE)
            .expect("valid decimal type"),
    ));
    out.push(Arc::new(purchase_date.finish()));
    out.push(Arc::new(install_status.finish()));
    out
}
