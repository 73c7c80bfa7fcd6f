//! `kb_knowledge`: knowledge articles with long text.

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};

use super::common::{self, DAY, NOW, NOW_DAY, SysCols, SysRow, sys_fields, utf8};
use crate::demo::identities::group_index;
use crate::demo::rng::Rng;
use crate::demo::text::{Fill, w};
use crate::demo::vocab;
use crate::demo::world::{FIRST_NUMBER, Table, World};

/// 2100-01-01, the platform's "valid forever".
const FOREVER_DAY: i32 = 47_482;

pub(crate) fn fields() -> Vec<Field> {
    let mut f = sys_fields();
    f.extend([
        utf8("number", false),
        utf8("short_description", false),
        utf8("text", false),
        utf8("workflow_state", false),
        utf8("kb_category", false),
        utf8("author", false),
        Field::new("published", DataType::Date32, false),
        Field::new("valid_to", DataType::Date32, true),
        Field::new("view_count", DataType::Int64, false),
        Field::new("rating", DataType::Float64, true),
    ]);
    f
}

/// Rows `start..start+len` of `kb_knowledge`.
pub(crate) fn columns(world: &World, start: u64, len: usize) -> Vec<ArrayRef> {
    let table = Table::KbKnowledge;
    let rows = world.rows(table);
    let seed = world.row_seed(table);
    let knowledge_managers = group_index("Knowledge Managers");
    let s = |per_row: usize| StringBuilder::with_capacity(len, len * per_row);
    let mut sys = SysCols::new(table.name(), len);
    let (mut number, mut short, mut text) = (s(10), s(40), s(1400));
    let (mut workflow_state, mut category, mut author) = (s(9), s(8), s(32));
    let mut published = Date32Builder::with_capacity(len);
    let mut valid_to = Date32Builder::with_capacity(len);
    let mut view_count = Int64Builder::with_capacity(len);
    let mut rating = Float64Builder::with_capacity(len);

    for index in start..start + len as u64 {
        let r = &mut Rng::for_record(seed, index);
        let (title, kb_category) = r.pick(&vocab::KB_TITLES);
        let fill = Fill::draw(r, "Knowledge Managers");
        let created_on = common::opened_at(r, index, rows);
        let writer = if r.chance(0.5) {
            world.dir.member(r, knowledge_managers)
        } else {
            world.dir.person(r)
        };
        let state = r.weighted(&[("published", 80), ("draft", 12), ("retired", 8)]);
        let published_day = ((created_on + r.range(0, 14 * DAY)).min(NOW - 1) / DAY) as i32;
        let updated_on = created_on + r.below((NOW - created_on) as u64) as i64;
        sys.append(SysRow {
            id: world.id(table, index),
            created_on,
            updated_on,
            created_by: world.dir.user_name(writer),
            updated_by: world.dir.user_name(writer),
            mod_count: r.below(15) as i32,
        });

        w(write!(number, "KB{:07}", FIRST_NUMBER + index));
        number.append_value("");
        fill.render(&mut short, title);
        short.append_value("");
        write_article(&mut text, r, &fill, title);
        text.append_value("");
        workflow_state.append_value(state);
        category.append_value(kb_category);
        author.append_value(world.user_id(writer).as_str());
        published.append_value(published_day);
        valid_to.append_option(match state {
            "retired" => Some(common::day_between(
                r,
                published_day + 1,
                NOW_DAY.max(published_day + 2),
            )),
            "draft" => None,
            _ => r.chance(0.75).then_some(FOREVER_DAY),
        });
        let views = match state {
            "draft" => r.below(6) as i64,
            _ => r.log_normal(250.0, 1.6) as i64,
        };
        view_count.append_value(views);
        rating.append_option((views >= 20).then(|| {
            let stars = 4.1 + (r.unit() + r.unit() - 1.0) * 1.4;
            (stars.clamp(1.0, 5.0) * 10.0).round() / 10.0
        }));
    }

    let mut out = Vec::new();
    sys.finish(&mut out);
    for b in [number, short, text, workflow_state, category, author] {
        let mut b = b;
        out.push(Arc::new(b.finish()));
    }
    out.push(Arc::new(published.finish()));
    out.push(Arc::new(valid_to.finish()));
    out.push(Arc::new(view_count.finish()));
    out.push(Arc::new(rating.finish()));
    out
}

/// An article: purpose, symptoms, numbered steps, and a closing note.
fn write_article(out: &mut StringBuilder, r: &mut Rng, fill: &Fill, title: &str) {
    fill.render(out, title);
    w(out.write_str("\n\nApplies to: all employees"));
    if r.chance(0.3) {
        fill.render(out, " in the {site} office");
    }
    w(out.write_str(".\n\nSymptoms\n"));
    let symptoms = 2 + r.below(3) as usize;
    fill.sentences(out, r, &vocab::KB_SYMPTOMS, symptoms, " ", true);
    w(out.write_str("\n\nResolution\n"));
    let steps = 4 + r.below(5) as usize;
    let mut used = 0u32;
    for k in 1..=steps {
        let mut i = r.below(vocab::KB_STEPS.len() as u64) as usize;
        while used & (1 << i) != 0 {
            i = (i + 1) % vocab::KB_STEPS.len();
        }
        used |= 1 << i;
        w(write!(out, "{k}. "));
        fill.render(out, vocab::KB_STEPS[i]);
        w(out.write_char('\n'));
    }
    w(out.write_str("\nAdditional information\n"));
    let extra = 1 + r.below(3) as usize;
    fill.sentences(out, r, &vocab::KB_NOTES, extra, " ", true);
    w(out.write_str("\nIf this article did not help, contact the Service Desk."));
}
