//! Property-based fuzzing of the `suandian gaia` command's readers (issue 14): GAIA's job trace
//! and carbon file, mutated the way `crates/io/tests/fuzz.rs` mutates every other parser's seeds
//! (the same mutations: `crates/io/tests/mutate/mod.rs`). Each reader returns an answer, never
//! panics or hangs, and whatever it accepts is finite. `PROPTEST_CASES` sets the cases (CI: the
//! default 128).

#[path = "../../io/tests/mutate/mod.rs"]
mod mutate;

use mutate::{apply, cases, edits, scratch};
use proptest::prelude::*;
use suandian_gaia::formats;

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_gaia_command_readers_never_panic(seed in 0usize..2, e in edits()) {
        if seed == 0 {
            let text = "arrival_time,length,cpus\n0.0,6302.0,1\n10.0,300.5,4\n20.0,7200,2\n";
            let path = scratch("gaia-trace.csv", &apply(text, &e));
            if let Ok(jobs) = formats::read_trace(&path) {
                for j in &jobs {
                    prop_assert!(j.length_s.is_finite() && j.arrival_s.is_finite() && j.cpus.is_finite());
                }
            }
        } else {
            let mut text = String::from("datetime,carbon_intensity_avg\n");
            for h in 0..30 {
                text.push_str(&format!("2020-01-01 {:02}:00:00,{}.5\n", h % 24, 300 + h));
            }
            let path = scratch("DE20.csv", &apply(&text, &e));
            let _ = formats::read_carbon(&path);
        }
    }
}
