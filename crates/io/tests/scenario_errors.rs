//! Bad input: every message names the file, the line or field, what was found and expected.

mod common;
use common::*;
use suandian_io::InputError;

#[test]
fn minimal_scenario_loads() {
    let s = parse(MIN).unwrap();
    assert_eq!(s.scenario.grid.slots, 4);
    assert_eq!(s.scenario.sites[1].grid.carbon_g_per_kwh, vec![400.0; 4]);
    assert_eq!(
        s.simulation.policies,
        vec![
            "asap",
            "carbon-wait",
            "greenest-site",
            "coordinated",
            "oracle"
        ]
    );
    assert_eq!(s.source, "scenario.toml");
    assert!(s.warnings.is_empty());
}

#[test]
fn missing_field_names_line_and_key() {
    let text = MIN.replacen("region = \"r\"\n", "", 1);
    let (e, m) = err(parse(&text));
    assert!(matches!(e, InputError::Syntax { .. }), "{e:?}");
    assert!(m.starts_with("scenario.toml: line "), "{m}");
    assert!(m.contains("missing key `region`"), "{m}");
    assert!(m.contains("sites[0]"), "{m}");
    let l = e.line().unwrap();
    assert!(
        (line_of(&text, "[[sites]]")..line_of(&text, "[sites.grid]")).contains(&l),
        "{m}"
    );
}

#[test]
fn unknown_key_is_an_error_with_its_line() {
    let text = MIN.replacen("pue = 1.2\n", "pue = 1.2\ncapcity_kw = 3\n", 1);
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "capcity_kw")), "{m}");
    assert!(m.contains("unknown field `capcity_kw`"), "{m}");
    assert!(m.contains("expected one of"), "{m}");
    assert!(m.contains("sites[0].capcity_kw"), "{m}");

    // Inside an inline table too.
    let text = MIN.replacen("peak_w = 700 }", "peak_w = 700, peek_w = 1 }", 1);
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "peek_w")), "{m}");
    assert!(m.contains("unknown field `peek_w`"), "{m}");

    // Inside a series table (read from a toml::Value): still named, with the line.
    let text = MIN.replacen("carbon = 400", "carbon = { valeus = [1, 2, 3, 4] }", 1);
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "valeus")), "{m}");
    assert!(
        m.contains("sites[0].grid.carbon: unknown field `valeus`"),
        "{m}"
    );
}

#[test]
fn version_is_required_and_checked() {
    let (_, m) = err(parse(&MIN.replacen("version = 1\n", "", 1)));
    assert!(
        m.contains("version: found no version key, expected version = 1"),
        "{m}"
    );
    let (e, m) = err(parse(&MIN.replacen("version = 1", "version = 2", 1)));
    assert_eq!(e.line(), Some(1));
    assert!(m.contains("found 2, expected version = 1"), "{m}");
}

#[test]
fn toml_syntax_errors_give_line_and_column() {
    let text = MIN.replacen("pue = 1.2", "pue = = 1.2", 1);
    let (e, m) = err(parse(&text));
    let l = line_of(&text, "pue = =");
    assert!(
        m.starts_with(&format!("scenario.toml: line {l}, column ")),
        "{m}"
    );
    assert!(matches!(
        e,
        InputError::Syntax {
            column: Some(_),
            ..
        }
    ));
}

#[test]
fn unknown_site_lists_the_known_ones() {
    let text = format!(
        "{MIN}\n[[work.jobs]]\nid = \"j\"\narrival_h = 0\naccelerators = 1\nruntime_h = 1\nhome_site = \"zz\"\n"
    );
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "home_site = \"zz\"")));
    assert!(m.contains("work.jobs[0].home_site: found \"zz\", not a site of this scenario, expected one of the sites: a, b"), "{m}");

    let text = format!(
        "{MIN}\n[[inference]]\nregion = \"u\"\ntokens_per_s = 10\nsites = [\"a\", \"c\"]\njoules_per_token = [1, 1]\n"
    );
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "sites = [\"a\", \"c\"]")));
    assert!(m.contains("inference[0].sites[1]: found \"c\""), "{m}");
    assert!(m.contains("one of the sites: a, b"), "{m}");
}

#[test]
fn impossible_values_name_the_field() {
    let bat = "[sites.battery]\ncapacity_kwh = -5\npower_kw = 10\nround_trip_efficiency = 0.9\n";
    let text = MIN.replacen("carbon = 400\n", &format!("carbon = 400\n{bat}"), 1);
    let (e, m) = err(parse(&text));
    assert_eq!(
        m,
        format!(
            "scenario.toml: line {}: sites[0].battery.capacity_kwh: found -5, expected a number >= 0",
            line_of(&text, "capacity_kwh")
        )
    );
    assert!(matches!(e, InputError::Value { .. }));

    let bat = "[sites.battery]\ncapacity_kwh = 5\npower_kw = 10\nround_trip_efficiency = 0.9\nsoc_min = 1.5\n";
    let text = MIN.replacen("carbon = 400\n", &format!("carbon = 400\n{bat}"), 1);
    let (_, m) = err(parse(&text));
    assert_eq!(
        m,
        format!(
            "scenario.toml: line {}: sites[0].battery.soc_min: found 1.5, expected a fraction 0..=1",
            line_of(&text, "soc_min")
        )
    );

    let bat = "[sites.battery]\ncapacity_kwh = 5\npower_kw = 10\nround_trip_efficiency = 1.2\n";
    let text = MIN.replacen("carbon = 400\n", &format!("carbon = 400\n{bat}"), 1);
    let (_, m) = err(parse(&text));
    assert!(
        m.contains(
            "sites[0].battery.round_trip_efficiency: found 1.2, expected a fraction in (0, 1]"
        ),
        "{m}"
    );

    let green = "[[sites.green]]\nname = \"pv\"\nkind = \"solar\"\ncapacity_kw = 10\ncapacity_factor = { values = [0.1, 0.5, 1.3, 0] }\n";
    let text = MIN.replacen("carbon = 400\n", &format!("carbon = 400\n{green}"), 1);
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "capacity_factor")));
    assert!(m.contains("sites[0].green[0].capacity_factor.values[2]: found 1.3, expected a capacity factor 0..=1"), "{m}");

    let text = MIN.replacen("pue = 1.2", "pue = 0.9", 1);
    let (_, m) = err(parse(&text));
    assert!(
        m.contains("sites[0].pue: found 0.9, expected a PUE >= 1.0"),
        "{m}"
    );

    let text = MIN.replacen("slot_minutes = 60", "slot_minutes = 7", 1);
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "slot_minutes")));
    assert!(
        m.contains("time.slot_minutes: found 7, expected 5 to 60 minutes"),
        "{m}"
    );
}

#[test]
fn inline_values_must_match_the_slots() {
    let text = MIN.replacen("price = 50", "price = { values = [1, 2, 3] }", 1);
    let (_, m) = err(parse(&text));
    assert!(
        m.contains("sites[0].grid.price.values: found 3 values, expected 4 values, one per slot"),
        "{m}"
    );
    let text = MIN.replacen("price = 50", "price = { daily = [1, 2, 3] }", 1);
    let (_, m) = err(parse(&text));
    assert!(
        m.contains("sites[0].grid.price.daily: found 3 values, expected 24 values"),
        "{m}"
    );
    let text = MIN.replacen("price = 50", "price = \"cheap\"", 1);
    let (_, m) = err(parse(&text));
    assert!(
        m.contains("sites[0].grid.price: found the string \"cheap\", expected a series"),
        "{m}"
    );
}

#[test]
fn unknown_policy_is_named() {
    let text = MIN.replacen(
        "[time]",
        "[simulation]\npolicies = [\"asap\", \"fastest\"]\n[time]",
        1,
    );
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "policies")));
    assert!(m.contains("simulation.policies[1]: found \"fastest\", expected one of asap, carbon-wait, greenest-site"), "{m}");
    let text = MIN.replacen("[time]", "[simulation]\nforecast = \"magic\"\n[time]", 1);
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "magic")));
    assert!(
        m.contains("unknown variant `magic`, expected one of `perfect`, `persistence`, `noisy`"),
        "{m}"
    );
}

#[test]
fn simulation_defaults_are_read() {
    let text = MIN.replacen(
        "[time]",
        "[simulation]\nforecast = \"noisy\"\nforecast_error = 0.2\nseed = 7\npolicies = [\"asap\"]\n[time]",
        1,
    );
    let s = parse(&text).unwrap();
    assert_eq!(
        s.simulation.forecast,
        suandian_core::forecast::ForecastKind::Noisy {
            relative_error: 0.2,
            seed: 7
        }
    );
    assert_eq!(s.simulation.policies, vec!["asap"]);
}

fn job(extra: &str) -> String {
    format!("{MIN}\n[[work.jobs]]\nid = \"j\"\narrival_h = 1\nruntime_h = 2\n{extra}\n")
}

#[test]
fn job_that_can_never_fit() {
    let text = job("accelerators = 12\nallowed_sites = [\"a\"]");
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "accelerators = 12")));
    assert!(
        m.contains("work.jobs[0].accelerators: found 12, expected at most 8, the most accelerators any allowed site has (the job can never fit)"),
        "{m}"
    );
    // Site b has 16: fine when b is allowed.
    parse(&job("accelerators = 12")).unwrap();

    let text = job("accelerators = 1\ndeadline = \"2022-06-01T02:00:00Z\"");
    let (e, m) = err(parse(&text));
    assert_eq!(e.line(), Some(line_of(&text, "deadline")));
    assert!(m.contains("work.jobs[0].deadline: found 2 h after the start, expected at least arrival + runtime = 3 h (the job can never meet it)"), "{m}");

    let text = job("accelerators = 1\narrival = \"2022-06-01T00:00:00Z\"");
    let (_, m) = err(parse(&text));
    assert!(
        m.contains("work.jobs[0].arrival_h: found both arrival and arrival_h"),
        "{m}"
    );
}

#[test]
fn job_deadlines_and_order() {
    let text = format!(
        "{MIN}\n[work]\ndefault_max_delay_h = 5\n\
         [[work.jobs]]\nid = \"late\"\narrival_h = 2\naccelerators = 1\nruntime_h = 1\n\
         [[work.jobs]]\nid = \"early\"\narrival = \"2022-06-01T00:30:00+00:00\"\naccelerators = 2\nruntime_h = 1\nmax_delay_h = 0\nallowed_sites = [\"b\"]\n\
         [[work.jobs]]\nid = \"tie\"\narrival_h = 2\naccelerators = 1\nruntime_h = 1\ndeadline = 2022-06-01T08:00:00+02:00\n\
         [[work.jobs]]\nid = \"first\"\narrival_h = 0\naccelerators = 1\nruntime_h = 1\nhome_site = \"b\"\n"
    );
    let s = parse(&text).unwrap();
    let ids: Vec<&str> = s.scenario.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["first", "early", "late", "tie"]);
    let j = &s.scenario.jobs;
    assert_eq!(j[0].deadline_h, 6.0);
    assert_eq!(
        (j[0].home_site, j[0].allowed_sites.clone()),
        (1, vec![0, 1])
    );
    assert_eq!((j[1].arrival_h, j[1].deadline_h), (0.5, 1.5));
    assert_eq!((j[1].home_site, j[1].allowed_sites.clone()), (1, vec![1]));
    assert_eq!(j[2].deadline_h, 8.0);
    assert_eq!(
        j[3].deadline_h, 6.0,
        "a TOML date-time with an offset is converted to UTC"
    );
    assert!(j[2].interruptible && !j[2].migratable);

    let text = format!(
        "{MIN}\n[[work.jobs]]\nid = \"x\"\narrival_h = 0\naccelerators = 1\nruntime_h = 1\n"
    );
    assert_eq!(
        parse(&text).unwrap().scenario.jobs[0].deadline_h,
        f64::INFINITY
    );

    let text = format!(
        "{MIN}\n[[work.jobs]]\nid = \"x\"\narrival_h = 4\naccelerators = 1\nruntime_h = 1\n"
    );
    let (_, m) = err(parse(&text));
    assert!(
        m.contains("work.jobs[0].arrival_h: found 4, expected an arrival within the horizon"),
        "{m}"
    );

    let text = format!("{MIN}\n[[work.jobs]]\nid = \"x\"\narrival_h = 0\naccelerators = 1\nruntime_h = 1\n[[work.jobs]]\nid = \"x\"\narrival_h = 0\naccelerators = 1\nruntime_h = 1\n");
    let (_, m) = err(parse(&text));
    assert!(
        m.contains(
            "work.jobs[1].id: found \"x\", already used by work.jobs[0], expected a unique job id"
        ),
        "{m}"
    );
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn with_carbon_file(spec: &str) -> String {
    MIN.replacen("carbon = 400", &format!("carbon = {spec}"), 1)
}

const HOURLY: &str = "timestamp,value\n2022-06-01 00:00:00,100\n2022-06-01 01:00:00,200\n2022-06-01 02:00:00,300\n2022-06-01 03:00:00,400\n";

#[test]
fn duplicate_timestamp_names_both_lines() {
    let d = scratch("dup");
    write(
        &d,
        "c.csv",
        &HOURLY.replacen("2022-06-01 02:00:00,300", "2022-06-01 01:00:00,300", 1),
    );
    let (e, m) = err(parse_in(&with_carbon_file("{ file = \"c.csv\" }"), &d));
    let f = d.join("c.csv").display().to_string();
    assert_eq!(e.file(), f);
    assert_eq!(
        m,
        format!("{f}: line 4: timestamp 2022-06-01 01:00 UTC repeats the one on line 3 (expected strictly increasing timestamps)")
    );
}

#[test]
fn gaps_error_by_default_and_fill_on_request() {
    let d = scratch("gap");
    // 02:00 and 03:00 are missing; 04:00 is 500.
    write(
        &d,
        "c.csv",
        "timestamp,value\n2022-06-01 00:00:00,100\n2022-06-01 01:00:00,200\n2022-06-01 04:00:00,500\n2022-06-01 05:00:00,600\n",
    );
    let f = d.join("c.csv").display().to_string();
    let (e, m) = err(parse_in(&with_carbon_file("{ file = \"c.csv\" }"), &d));
    assert_eq!(e.file(), f);
    assert_eq!(e.line(), Some(4), "{m}");
    assert!(
        m.contains("timestamp 2022-06-01 04:00 UTC follows 2022-06-01 01:00 UTC on line 3 after 3 h, more than the usual spacing of 1 h"),
        "{m}"
    );
    assert!(m.contains("gaps = \"hold\" or \"interpolate\""), "{m}");

    let s = parse_in(
        &with_carbon_file("{ file = \"c.csv\", gaps = \"hold\" }"),
        &d,
    )
    .unwrap();
    assert_eq!(
        s.scenario.sites[0].grid.carbon_g_per_kwh,
        vec![100.0, 200.0, 200.0, 200.0]
    );
    assert_eq!(s.warnings.len(), 1);
    assert!(
        s.warnings[0].contains("filled 1 gap(s)") && s.warnings[0].contains("hold"),
        "{:?}",
        s.warnings
    );

    let s = parse_in(
        &with_carbon_file("{ file = \"c.csv\", gaps = \"interpolate\" }"),
        &d,
    )
    .unwrap();
    assert_eq!(
        s.scenario.sites[0].grid.carbon_g_per_kwh,
        vec![100.0, 200.0, 300.0, 400.0]
    );
    assert!(s.warnings[0].contains("filled 1 gap(s)") && s.warnings[0].contains("interpolate"));

    // The scenario-wide rule in [simulation].
    let text = with_carbon_file("{ file = \"c.csv\" }").replacen(
        "[time]",
        "[simulation]\ngaps = \"interpolate\"\n[time]",
        1,
    );
    let s = parse_in(&text, &d).unwrap();
    assert_eq!(
        s.scenario.sites[0].grid.carbon_g_per_kwh,
        vec![100.0, 200.0, 300.0, 400.0]
    );

    // An empty cell is a missing value: an error by default, filled like a gap on request.
    write(&d, "e.csv", &HOURLY.replacen(",300", ",", 1));
    let (e, m) = err(parse_in(&with_carbon_file("{ file = \"e.csv\" }"), &d));
    assert_eq!(e.line(), Some(4));
    assert!(m.contains("empty value at 2022-06-01 02:00 UTC"), "{m}");
    let s = parse_in(
        &with_carbon_file("{ file = \"e.csv\", gaps = \"interpolate\" }"),
        &d,
    )
    .unwrap();
    assert_eq!(
        s.scenario.sites[0].grid.carbon_g_per_kwh,
        vec![100.0, 200.0, 300.0, 400.0]
    );
}

#[test]
fn series_must_cover_the_horizon() {
    let d = scratch("cover");
    write(
        &d,
        "c.csv",
        "timestamp,value\n2022-06-01 00:00:00,1\n2022-06-01 01:00:00,2\n2022-06-01 02:00:00,3\n",
    );
    let (e, m) = err(parse_in(&with_carbon_file("{ file = \"c.csv\" }"), &d));
    assert_eq!(e.file(), d.join("c.csv").display().to_string());
    assert!(
        m.contains("covers 2022-06-01 00:00 UTC to 2022-06-01 03:00 UTC but the scenario needs 2022-06-01 00:00 UTC to 2022-06-01 04:00 UTC: missing 2022-06-01 03:00 UTC to 2022-06-01 04:00 UTC"),
        "{m}"
    );
    write(&d, "late.csv", "timestamp,value\n2022-06-01 01:00:00,1\n2022-06-01 02:00:00,2\n2022-06-01 03:00:00,3\n2022-06-01 04:00:00,3\n");
    let (_, m) = err(parse_in(&with_carbon_file("{ file = \"late.csv\" }"), &d));
    assert!(
        m.contains("missing 2022-06-01 00:00 UTC to 2022-06-01 01:00 UTC"),
        "{m}"
    );
}

#[test]
fn file_values_are_range_checked_with_their_line() {
    let d = scratch("range");
    write(&d, "c.csv", &HOURLY.replacen(",300", ",-3", 1));
    let (e, m) = err(parse_in(&with_carbon_file("{ file = \"c.csv\" }"), &d));
    assert_eq!(e.line(), Some(4));
    assert!(
        m.contains("value: found -3, expected a carbon intensity >= 0 g/kWh"),
        "{m}"
    );
    write(&d, "c.csv", &HOURLY.replacen(",300", ",abc", 1));
    let (e, m) = err(parse_in(&with_carbon_file("{ file = \"c.csv\" }"), &d));
    assert_eq!(e.line(), Some(4));
    assert!(m.contains("found \"abc\", expected a number"), "{m}");
    write(
        &d,
        "c.csv",
        &HOURLY.replacen("2022-06-01 02:00:00", "June 1st", 1),
    );
    let (e, m) = err(parse_in(&with_carbon_file("{ file = \"c.csv\" }"), &d));
    assert_eq!(e.line(), Some(4));
    assert!(
        m.contains("timestamp: found \"June 1st\", expected a timestamp"),
        "{m}"
    );
    let (e, m) = err(parse_in(&with_carbon_file("{ file = \"nope.csv\" }"), &d));
    assert!(matches!(e, InputError::Io { .. }));
    assert!(m.contains("nope.csv: cannot read the file"), "{m}");
    // The scale applies before the check.
    write(&d, "c.csv", HOURLY);
    let s = parse_in(&with_carbon_file("{ file = \"c.csv\", scale = 0.5 }"), &d).unwrap();
    assert_eq!(
        s.scenario.sites[0].grid.carbon_g_per_kwh,
        vec![50.0, 100.0, 150.0, 200.0]
    );
}

#[test]
fn traces_resolve_with_lines_in_errors() {
    let d = scratch("traces");
    write(
        &d,
        "g.csv",
        "arrival_time,length,cpus\n0,3600,1\n1800,7200,2\n3600,1800,20\n",
    );
    let gaia = |extra: &str| {
        format!("{MIN}\n[[work.traces]]\nfile = \"g.csv\"\nformat = \"gaia\"\n{extra}\n")
    };
    let f = d.join("g.csv").display().to_string();
    let (e, m) = err(parse_in(&gaia("time_unit = \"seconds\""), &d));
    assert_eq!(e.file(), f);
    assert_eq!(e.line(), Some(4));
    assert!(
        m.contains("accelerators: found 20, expected at most 16"),
        "{m}"
    );
    assert!(m.contains("can never fit"), "{m}");

    let (_, m) = err(parse_in(&gaia(""), &d));
    assert!(m.contains("work.traces[0]: found no time_unit"), "{m}");

    let s = parse_in(&gaia("time_unit = \"seconds\"\naccelerators_per_cpu = 0.5\nmax_delay_h = 2\nhome_site = \"b\""), &d).unwrap();
    let j = &s.scenario.jobs;
    assert_eq!(j.len(), 3);
    assert_eq!(
        (j[1].arrival_h, j[1].runtime_h, j[1].accelerators),
        (0.5, 2.0, 1)
    );
    assert_eq!(j[2].accelerators, 10);
    assert_eq!(j[1].deadline_h, 4.5);
    assert!(j.iter().all(|j| j.home_site == 1));
    assert_eq!(j[0].id, "g-0");

    // Round-robin homes over the allowed sites.
    let s = parse_in(
        &gaia("time_unit = \"seconds\"\naccelerators_per_cpu = 0.5"),
        &d,
    )
    .unwrap();
    let homes: Vec<usize> = s.scenario.jobs.iter().map(|j| j.home_site).collect();
    assert_eq!(homes, [0, 1, 0]);

    // Outside the horizon: an error naming the line, or dropped with a warning.
    let (e, m) = err(parse_in(
        &gaia("time_unit = \"hours\"\naccelerators_per_cpu = 0.5"),
        &d,
    ));
    assert_eq!(e.line(), Some(3), "{m}");
    assert!(
        m.contains("arrival: found 1800 h after the scenario start"),
        "{m}"
    );
    assert!(m.contains("outside_horizon = \"drop\""), "{m}");
    let s = parse_in(
        &gaia("time_unit = \"hours\"\naccelerators_per_cpu = 0.5\noutside_horizon = \"drop\""),
        &d,
    )
    .unwrap();
    assert_eq!(s.scenario.jobs.len(), 1);
    assert!(
        s.warnings.iter().any(|w| w.contains("dropped 2 of 3 jobs")),
        "{:?}",
        s.warnings
    );

    // A zero-length job is an error naming its line.
    write(&d, "z.csv", "arrival_time,length,cpus\n0,3600,1\n10,0,1\n");
    let text = format!(
        "{MIN}\n[[work.traces]]\nfile = \"z.csv\"\nformat = \"gaia\"\ntime_unit = \"seconds\"\n"
    );
    let (e, m) = err(parse_in(&text, &d));
    assert_eq!(e.line(), Some(3));
    assert!(
        m.contains("length: found 0, expected a run time > 0"),
        "{m}"
    );
}

#[test]
fn native_trace() {
    let d = scratch("native");
    write(
        &d,
        "n.csv",
        "id,arrival,accelerators,runtime_h,deadline,interruptible,migratable,allowed_sites,home_site\n\
         n1,2022-06-01T01:00:00Z,4,1.5,2022-06-01T04:00:00Z,false,true,a;b,b\n\
         n2,2022-06-01T00:00:00Z,2,1,,,,a,\n",
    );
    let text =
        format!("{MIN}\n[[work.traces]]\nfile = \"n.csv\"\nformat = \"native\"\nmax_delay_h = 1\n");
    let s = parse_in(&text, &d).unwrap();
    let j = &s.scenario.jobs;
    assert_eq!(j[0].id, "n2");
    assert_eq!(
        (j[0].allowed_sites.clone(), j[0].home_site, j[0].deadline_h),
        (vec![0], 0, 2.0)
    );
    assert!(j[0].interruptible && !j[0].migratable);
    assert_eq!(j[1].id, "n1");
    assert_eq!(
        (j[1].arrival_h, j[1].deadline_h, j[1].home_site),
        (1.0, 4.0, 1)
    );
    assert!(!j[1].interruptible && j[1].migratable);

    write(
        &d,
        "bad.csv",
        "id,arrival,accelerators,runtime_h,allowed_sites\nx,2022-06-01T01:00:00Z,4,1,a;mars\n",
    );
    let text = format!("{MIN}\n[[work.traces]]\nfile = \"bad.csv\"\nformat = \"native\"\n");
    let (e, m) = err(parse_in(&text, &d));
    assert_eq!(e.line(), Some(2));
    assert!(m.contains("allowed_sites: found \"mars\", not a site of this scenario, expected one of the sites: a, b"), "{m}");
}

#[test]
fn alibaba_trace_skips_with_warnings() {
    let d = scratch("ali");
    write(
        &d,
        "p.csv",
        "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n\
         p0,1000,100,1,1000,,LS,Running,0,7200,0\n\
         p1,1000,100,0,0,,LS,Running,10,7200,10\n\
         p2,1000,100,1,500,,BE,Running,3600,10800,5400\n\
         p3,1000,100,2,1000,,BE,Pending,3600,10800,\n\
         p4,1000,100,8,1000,,BE,Failed,3600,3600,3600\n",
    );
    let text = format!("{MIN}\n[[work.traces]]\nfile = \"p.csv\"\nformat = \"alibaba-gpu\"\n");
    let s = parse_in(&text, &d).unwrap();
    let j = &s.scenario.jobs;
    assert_eq!(j.len(), 2);
    assert_eq!(
        (j[0].id.as_str(), j[0].runtime_h, j[0].accelerators),
        ("p0", 2.0, 1)
    );
    assert_eq!(
        (
            j[1].id.as_str(),
            j[1].arrival_h,
            j[1].runtime_h,
            j[1].accelerators
        ),
        ("p2", 1.0, 1.5, 1)
    );
    let w = s.warnings.join("\n");
    assert!(w.contains("skipped 1 pods with num_gpu = 0"), "{w}");
    assert!(w.contains("skipped 1 GPU pods never scheduled"), "{w}");
    assert!(
        w.contains("skipped 1 GPU pods whose deletion_time is not after scheduled_time"),
        "{w}"
    );
    assert!(w.contains("1 of the pods read share a GPU"), "{w}");
}
