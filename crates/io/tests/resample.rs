//! Resampling checked by hand.

use chrono::{DateTime, Utc};
use suandian_core::TimeGrid;
use suandian_io::series::{daily_profile, parse_timestamp, resample, Bounds, GapRule, RawSeries};

fn t(s: &str) -> i64 {
    parse_timestamp(s).unwrap()
}

fn raw(points: &[(&str, f64)]) -> RawSeries {
    RawSeries {
        source: "test.csv".into(),
        column: "value".into(),
        times: points.iter().map(|p| t(p.0)).collect(),
        values: points.iter().map(|p| p.1).collect(),
        lines: (2..points.len() + 2).collect(),
        naive: vec![],
    }
}

fn grid(start: &str, slot_minutes: u32, slots: usize) -> TimeGrid {
    TimeGrid {
        start: DateTime::<Utc>::from_timestamp(t(start), 0).unwrap(),
        slot_minutes,
        slots,
    }
}

fn run(r: &RawSeries, g: &TimeGrid) -> Vec<f64> {
    resample(r, g, GapRule::Error, Bounds::ANY).unwrap().values
}

#[test]
fn hourly_to_quarter_hours_repeats_each_hour() {
    let r = raw(&[
        ("2022-06-01 00:00", 1.0),
        ("2022-06-01 01:00", 2.0),
        ("2022-06-01 02:00", 3.0),
    ]);
    let v = run(&r, &grid("2022-06-01 00:00", 15, 12));
    assert_eq!(
        v,
        [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0]
    );
    // The last value holds for one usual spacing, not longer.
    let e = resample(
        &r,
        &grid("2022-06-01 00:00", 15, 13),
        GapRule::Error,
        Bounds::ANY,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("missing 2022-06-01 03:00 UTC to 2022-06-01 03:15 UTC"),
        "{e}"
    );
}

#[test]
fn five_minutes_to_hourly_is_the_mean_of_twelve() {
    let base = t("2022-06-01 00:00");
    let r = RawSeries {
        source: "x.csv".into(),
        column: "v".into(),
        times: (0..24).map(|i| base + i * 300).collect(),
        values: (0..24).map(f64::from).collect(),
        lines: (2..26).collect(),
        naive: vec![],
    };
    let v = run(&r, &grid("2022-06-01 00:00", 60, 2));
    assert_eq!(v, [5.5, 17.5]); // mean of 0..=11 and of 12..=23
    let v = run(&r, &grid("2022-06-01 00:00", 30, 4));
    assert_eq!(v, [2.5, 8.5, 14.5, 20.5]);
}

#[test]
fn series_starting_mid_hour_is_time_weighted() {
    // Values at half past each hour: each holds for an hour from its timestamp.
    let r = raw(&[
        ("2022-06-01 00:30", 10.0),
        ("2022-06-01 01:30", 20.0),
        ("2022-06-01 02:30", 30.0),
    ]);
    // [01:00, 02:00) is half 10, half 20.
    assert_eq!(run(&r, &grid("2022-06-01 01:00", 60, 2)), [15.0, 25.0]);
    // 15-min slots: the step sits inside the slots' boundaries exactly.
    assert_eq!(
        run(&r, &grid("2022-06-01 01:00", 15, 4)),
        [10.0, 10.0, 20.0, 20.0]
    );
    // 20-min slots: [01:20, 01:40) is half 10, half 20.
    assert_eq!(
        run(&r, &grid("2022-06-01 01:00", 20, 3)),
        [10.0, 15.0, 20.0]
    );
    // The series starts after 00:00: a grid from 00:00 is not covered.
    let e = resample(
        &r,
        &grid("2022-06-01 00:00", 60, 2),
        GapRule::Error,
        Bounds::ANY,
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("missing 2022-06-01 00:00 UTC to 2022-06-01 00:30 UTC"),
        "{e}"
    );
}

#[test]
fn grid_starting_mid_hour() {
    let r = raw(&[
        ("2022-06-01 00:00", 1.0),
        ("2022-06-01 01:00", 2.0),
        ("2022-06-01 02:00", 3.0),
    ]);
    assert_eq!(run(&r, &grid("2022-06-01 00:30", 60, 2)), [1.5, 2.5]);
}

#[test]
fn only_values_the_horizon_uses_are_checked() {
    // A value outside the horizon that breaks the bounds does not matter.
    let r = raw(&[
        ("2022-06-01 00:00", -1.0),
        ("2022-06-01 01:00", 2.0),
        ("2022-06-01 02:00", 3.0),
        ("2022-06-01 03:00", -1.0),
    ]);
    let v = resample(
        &r,
        &grid("2022-06-01 01:00", 60, 2),
        GapRule::Error,
        Bounds::NONNEG,
    )
    .unwrap();
    assert_eq!(v.values, [2.0, 3.0]);
    let e = resample(
        &r,
        &grid("2022-06-01 01:00", 60, 3),
        GapRule::Error,
        Bounds::NONNEG,
    )
    .unwrap_err();
    assert_eq!(e.line(), Some(5));
    assert!(
        e.to_string().contains("found -1, expected a number >= 0"),
        "{e}"
    );
}

#[test]
fn gaps_hold_and_interpolate_at_quarter_hours() {
    // Hourly with 01:00 and 02:00 missing.
    let r = raw(&[
        ("2022-06-01 00:00", 0.0),
        ("2022-06-01 03:00", 30.0),
        ("2022-06-01 04:00", 40.0),
        ("2022-06-01 05:00", 50.0),
    ]);
    let g = grid("2022-06-01 00:00", 60, 4);
    // Usual spacing from so few points: 1 h is the most common (twice) spacing.
    let e = resample(&r, &g, GapRule::Error, Bounds::ANY).unwrap_err();
    assert_eq!(e.line(), Some(3));
    let h = resample(&r, &g, GapRule::Hold, Bounds::ANY).unwrap();
    assert_eq!(
        (h.values.as_slice(), h.gaps_filled),
        ([0.0, 0.0, 0.0, 30.0].as_slice(), 1)
    );
    let i = resample(&r, &g, GapRule::Interpolate, Bounds::ANY).unwrap();
    assert_eq!(
        (i.values.as_slice(), i.gaps_filled),
        ([0.0, 10.0, 20.0, 30.0].as_slice(), 1)
    );
    let q = resample(
        &r,
        &grid("2022-06-01 00:30", 30, 4),
        GapRule::Interpolate,
        Bounds::ANY,
    )
    .unwrap();
    assert_eq!(q.values, [0.0, 10.0, 10.0, 20.0]);
}

#[test]
fn out_of_order_is_an_error_naming_both_lines() {
    let r = raw(&[
        ("2022-06-01 00:00", 0.0),
        ("2022-06-01 02:00", 1.0),
        ("2022-06-01 01:00", 2.0),
    ]);
    let e = resample(
        &r,
        &grid("2022-06-01 00:00", 60, 1),
        GapRule::Error,
        Bounds::ANY,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "test.csv: line 4: timestamp 2022-06-01 01:00 UTC is earlier than the one on line 3 (expected strictly increasing timestamps)"
    );
}

#[test]
fn daily_profiles_follow_utc_hours() {
    let mut p = [0.0; 24];
    for (h, v) in p.iter_mut().enumerate() {
        *v = h as f64;
    }
    // From 22:30 for 3 h at 30-min slots, crossing midnight UTC.
    let g = grid("2022-06-01 22:30", 30, 6);
    let v = run(&daily_profile(&p, &g, "demo"), &g);
    assert_eq!(v, [22.0, 23.0, 23.0, 0.0, 0.0, 1.0]);
    // Hourly slots starting at half past: the mean of two hours.
    let g = grid("2022-06-01 10:30", 60, 2);
    assert_eq!(run(&daily_profile(&p, &g, "demo"), &g), [10.5, 11.5]);
}
