//! `[[demand_response]]` in scenario files: read, resolved, checked with precise messages.

mod common;
use common::*;

const EVENT: &str = r#"
[[demand_response]]
id = "evt-1"
sites = ["b"]
start = "2022-06-01T01:30:00Z"
end = "2022-06-01T03:00:00Z"
announced = "2022-06-01T00:15:00Z"
import_cap_kw = 40
"#;

#[test]
fn an_event_is_read_in_hours_since_the_start() {
    let s = parse(&format!("{MIN}{EVENT}")).unwrap();
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let sc = s.scenario;
    let e = &sc.demand_response[0];
    assert_eq!(e.id, "evt-1");
    assert_eq!(e.sites, vec![1]);
    assert_eq!((e.start_h, e.end_h, e.announced_h), (1.5, 3.0, 0.25));
    assert_eq!(e.import_cap_kw, 40.0);
    // Slot 1 (1:00-2:00) is half covered: capped whole.
    assert_eq!(
        (0..4).map(|t| sc.import_limit_kw(1, t)).collect::<Vec<_>>(),
        [100.0, 40.0, 40.0, 100.0]
    );
    assert_eq!(
        (0..4).map(|t| sc.import_limit_kw(0, t)).collect::<Vec<_>>(),
        [100.0; 4]
    );
}

#[test]
fn defaults_every_site_and_no_notice() {
    let text = format!("{MIN}{EVENT}")
        .replace("sites = [\"b\"]\n", "")
        .replace("announced = \"2022-06-01T00:15:00Z\"\n", "");
    let e = &parse(&text).unwrap().scenario.demand_response[0];
    assert_eq!(e.sites, vec![0, 1]);
    assert_eq!(e.announced_h, e.start_h);
}

#[test]
fn an_event_outside_the_horizon_is_a_warning() {
    let text = format!("{MIN}{EVENT}")
        .replace("2022-06-01T01:30:00Z", "2022-06-02T01:30:00Z")
        .replace("2022-06-01T03:00:00Z", "2022-06-02T03:00:00Z");
    let s = parse(&text).unwrap();
    assert_eq!(
        s.warnings,
        vec!["scenario.toml: demand_response[0] (event \"evt-1\", 2022-06-02 01:30 UTC to 2022-06-02 03:00 UTC) lies outside the horizon; it has no effect"]
    );
}

/// The error message for the event with `from` replaced by `to`, and the line it should name.
fn error_for(from: &str, to: &str) -> (String, usize) {
    let text = format!("{MIN}{EVENT}").replacen(from, to, 1);
    let (_, m) = err(parse(&text));
    let needle = to.lines().last().unwrap_or(to);
    (m, line_of(&text, needle))
}

#[test]
fn errors_name_the_event_the_field_and_the_line() {
    let (m, l) = error_for("sites = [\"b\"]", "sites = [\"b\", \"zz\"]");
    assert_eq!(
        m,
        format!("scenario.toml: line {l}: demand_response[0].sites[1]: found \"zz\" (event \"evt-1\"), not a site of this scenario, expected one of the sites: a, b")
    );
    let (m, l) = error_for("sites = [\"b\"]", "sites = [\"b\", \"b\"]");
    assert_eq!(
        m,
        format!("scenario.toml: line {l}: demand_response[0].sites[1]: found \"b\" twice (event \"evt-1\"), expected each site once")
    );
    let (m, l) = error_for("sites = [\"b\"]", "sites = []");
    assert_eq!(
        m,
        format!("scenario.toml: line {l}: demand_response[0].sites: found an empty list (event \"evt-1\"), expected at least one site, or no `sites` key for every site")
    );
    let (m, l) = error_for(
        "end = \"2022-06-01T03:00:00Z\"",
        "end = \"2022-06-01T01:30:00Z\"",
    );
    assert_eq!(
        m,
        format!("scenario.toml: line {l}: demand_response[0].end: found 2022-06-01 01:30 UTC (event \"evt-1\"), expected a time after its start, 2022-06-01 01:30 UTC")
    );
    let (m, l) = error_for(
        "announced = \"2022-06-01T00:15:00Z\"",
        "announced = \"2022-06-01T02:00:00Z\"",
    );
    assert_eq!(
        m,
        format!("scenario.toml: line {l}: demand_response[0].announced: found 2022-06-01 02:00 UTC (event \"evt-1\"), expected a time at or before its start, 2022-06-01 01:30 UTC (omit it for an event without notice)")
    );
    let (m, l) = error_for("import_cap_kw = 40", "import_cap_kw = -5");
    assert_eq!(
        m,
        format!("scenario.toml: line {l}: demand_response[0].import_cap_kw: found -5 (event \"evt-1\"), expected a number >= 0")
    );
    let (m, l) = error_for("start = \"2022-06-01T01:30:00Z\"", "start = \"tomorrow\"");
    assert!(
        m.starts_with(&format!(
            "scenario.toml: line {l}: demand_response[0].start: found \"tomorrow\""
        )),
        "{m}"
    );
    let (m, l) = error_for(
        "import_cap_kw = 40",
        "import_cap_kw = 40\nimport_cap_mw = 1",
    );
    assert_eq!(l, line_of(&format!("{MIN}{EVENT}"), "import_cap_kw") + 1);
    assert!(
        m.contains(&format!("line {l}"))
            && m.contains("demand_response[0].import_cap_mw: unknown field `import_cap_mw`"),
        "{m}"
    );
    let (m, _) = error_for("import_cap_kw = 40\n", "");
    assert!(
        m.contains("demand_response[0]: missing key `import_cap_kw`"),
        "{m}"
    );
}

#[test]
fn event_ids_are_unique() {
    let text = format!("{MIN}{EVENT}{EVENT}");
    let (e, m) = err(parse(&text));
    let second = text.match_indices("id = \"evt-1\"").nth(1).unwrap().0;
    assert_eq!(e.line(), Some(text[..second].lines().count() + 1), "{m}");
    assert!(
        m.ends_with("demand_response[1].id: found \"evt-1\", already the id of demand_response[0], expected a unique event id"),
        "{m}"
    );
}

/// The breach penalty: `economics.over_limit_per_kwh` and an event's `penalty_per_kwh` are read,
/// checked, and written back by the export.
#[test]
fn breach_penalties_are_read_checked_and_exported() {
    let text = format!("{MIN}{EVENT}penalty_per_kwh = 12.5\n");
    let s = parse(&text).unwrap();
    assert_eq!(s.scenario.demand_response[0].penalty_per_kwh, Some(12.5));
    assert_eq!(s.scenario.economics.over_limit_per_kwh, None);
    assert_eq!(s.scenario.dr_penalty_per_kwh(1, 1), Some(12.5));
    let exported = suandian_io::export::to_toml(&s);
    assert!(exported.contains("penalty_per_kwh = 12.5"), "{exported}");

    let bad = format!("{MIN}{EVENT}penalty_per_kwh = -1\n");
    let (_, m) = err(parse(&bad));
    assert!(m.contains("demand_response[0].penalty_per_kwh"), "{m}");
    assert!(m.contains("found -1"), "{m}");
}
