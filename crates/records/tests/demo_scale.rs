//! Timing of the demo generator at a million incidents. Run by hand, in a
//! release build:
//!
//! ```text
//! cargo test --release -p sqlgate-records --test demo_scale -- --ignored --nocapture
//! ```
//! (`DEMO_SCALE` overrides the scale, `DEMO_OUT` keeps the output.)

use std::time::Instant;

use sqlgate_records::demo::{self, DemoOptions};

#[test]
#[ignore = "takes seconds in release and minutes in debug; run by hand"]
fn one_million_incidents() {
    let scale = std::env::var("DEMO_SCALE").map_or(1_000_000, |s| s.parse().expect("DEMO_SCALE"));
    let tmp = tempfile::tempdir().unwrap();
    let out = std::env::var_os("DEMO_OUT").map_or_else(|| tmp.path().to_owned(), Into::into);
    let opts = DemoOptions {
        scale,
        ..DemoOptions::default()
    };
    let started = Instant::now();
    let summary = demo::generate(&out, &opts, &|_| {}).unwrap();
    let elapsed = started.elapsed();
    let mut total = 0;
    for (table, rows) in &summary.tables {
        let mut bytes = 0;
        let mut files = 0;
        for e in std::fs::read_dir(out.join(table)).unwrap() {
            bytes += e.unwrap().metadata().unwrap().len();
            files += 1;
        }
        total += bytes;
        println!(
            "{table:>20} {rows:>10} rows {files:>3} files {:>9.1} MiB",
            bytes as f64 / 1048576.0
        );
    }
    println!(
        "scale {scale}: {:.1} s, {:.1} MiB",
        elapsed.as_secs_f64(),
        total as f64 / 1048576.0
    );
}
