//! Realistic text from templates, written straight into Arrow string
//! builders (they implement `fmt::Write`), so no per-row `String` is made.
//!
//! A template names its blanks in braces: `{app}`, `{site}`, `{dept}`,
//! `{device}`, `{host}`, `{floor}`, `{n}`, `{month}`, `{error}`, `{when}`,
//! `{ver}`, `{os}`, `{group}`. A record draws one [`Fill`] so that the same
//! blank reads the same in its short description, description and notes.

use std::fmt::{self, Write};

use super::rng::Rng;
use super::vocab;

/// The values of a record's blanks.
pub(crate) struct Fill {
    app: &'static str,
    site: &'static str,
    dept: &'static str,
    device: &'static str,
    host_prefix: &'static str,
    host_no: u16,
    floor: u8,
    n: u8,
    month: &'static str,
    error: &'static str,
    when: &'static str,
    ver: (u8, u8, u8),
    os: &'static str,
    group: &'static str,
}

impl Fill {
    pub(crate) fn draw(rng: &mut Rng, group: &'static str) -> Fill {
        Fill {
            app: rng.pick(&vocab::APPS),
            site: rng.pick(&vocab::SITES),
            dept: rng.pick(&vocab::DEPARTMENTS),
            device: rng.pick(&vocab::DEVICES),
            host_prefix: rng.pick(&vocab::HOST_PREFIXES),
            host_no: rng.range(1, 240) as u16,
            floor: rng.range(1, 12) as u8,
            n: rng.range(2, 15) as u8,
            month: rng.pick(&vocab::MONTHS),
            error: rng.pick(&vocab::ERRORS),
            when: rng.pick(&vocab::WHEN),
            ver: (
                rng.range(2, 24) as u8,
                rng.range(0, 9) as u8,
                rng.range(0, 20) as u8,
            ),
            os: rng.pick(&vocab::OPERATING_SYSTEMS),
            group,
        }
    }

    /// The `{site}` blank, for columns that hold a location.
    pub(crate) fn site(&self) -> &'static str {
        self.site
    }

    fn blank(&self, out: &mut impl Write, name: &str) -> fmt::Result {
        match name {
            "app" => out.write_str(self.app),
            "site" => out.write_str(self.site),
            "dept" => out.write_str(self.dept),
            "device" => out.write_str(self.device),
            "host" => write!(out, "{}-{:03}", self.host_prefix, self.host_no),
            "floor" => write!(out, "{}", self.floor),
            "n" => write!(out, "{}", self.n),
            "month" => out.write_str(self.month),
            "error" => out.write_str(self.error),
            "when" => out.write_str(self.when),
            "ver" => write!(out, "{}.{}.{}", self.ver.0, self.ver.1, self.ver.2),
            "os" => out.write_str(self.os),
            "group" => out.write_str(self.group),
            other => panic!("unknown template blank {{{other}}}"),
        }
    }

    /// Writes `template` with its blanks filled.
    pub(crate) fn render(&self, out: &mut impl Write, template: &str) {
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = open + rest[open..].find('}').expect("unclosed template blank");
            w(out.write_str(&rest[..open]));
            w(self.blank(out, &rest[open + 1..close]));
            rest = &rest[close + 1..];
        }
        w(out.write_str(rest));
    }

    /// Writes `count` sentences drawn from `from` (distinct when it has
    /// enough), separated by `sep`, preceded by `sep` unless `first`.
    pub(crate) fn sentences(
        &self,
        out: &mut impl Write,
        rng: &mut Rng,
        from: &[&str],
        count: usize,
        sep: &str,
        first: bool,
    ) {
        let mut used = 0u64;
        for k in 0..count {
            let mut i = rng.below(from.len() as u64) as usize;
            // Probe forward to the next sentence not used yet.
            for _ in 0..from.len().min(64) {
                if used & (1 << (i % 64)) == 0 {
                    break;
                }
                i = (i + 1) % from.len();
            }
            used |= 1 << (i % 64);
            if k > 0 || !first {
                w(out.write_str(sep));
            }
            self.render(out, from[i]);
        }
    }
}

/// Writing into an Arrow builder or a `String` cannot fail.
#[inline]
pub(crate) fn w(r: fmt::Result) {
    r.expect("writing to memory cannot fail");
}

/// Writes `micros` (UTC) as `YYYY-MM-DD HH:MM:SS`, the journal style.
pub(crate) fn write_datetime(out: &mut impl Write, micros: i64) {
    let secs = micros.div_euclid(1_000_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    w(write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    ));
}

/// Proleptic Gregorian date of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(18_628), (2021, 1, 1));
        assert_eq!(civil_from_days(20_634), (2026, 6, 30));
        let mut s = String::new();
        write_datetime(&mut s, 1_609_459_200_000_000 + 3_723_000_000);
        assert_eq!(s, "2021-01-01 01:02:03");
    }

    #[test]
    fn every_template_blank_is_known() {
        let mut rng = Rng::for_record(1, 1);
        let fill = Fill::draw(&mut rng, "Network");
        let mut all: Vec<&str> = Vec::new();
        for t in vocab::TOPICS {
            all.extend(t.short.iter().chain(t.detail).chain(t.fix));
        }
        all.extend(vocab::CALLER_SENTENCES);
        all.extend(vocab::WORK_NOTES);
        all.extend(vocab::TASKS.iter().map(|t| t.0));
        all.extend(vocab::TASK_SENTENCES);
        all.extend(vocab::PROBLEMS.iter().flat_map(|t| [t.0, t.2, t.3]));
        all.extend(vocab::PROBLEM_SENTENCES);
        all.extend(vocab::HR_NOTES);
        all.extend(vocab::KB_NOTES);
        all.extend(vocab::KB_SYMPTOMS);
        all.extend(vocab::CHANGES.iter().map(|t| t.0));
        all.extend(vocab::CHANGE_SENTENCES);
        all.extend(vocab::HR_SERVICES.iter().flat_map(|s| s.2.iter().copied()));
        all.extend(vocab::HR_SENTENCES);
        all.extend(vocab::KB_TITLES.iter().map(|t| t.0));
        all.extend(vocab::KB_STEPS);
        for t in all {
            let mut s = String::new();
            fill.render(&mut s, t);
            assert!(!s.contains('{') && !s.contains('}'), "{t}");
        }
    }
}
