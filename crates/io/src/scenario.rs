//! The versioned TOML scenario format (see `docs/scenario.md`) → [`suandian_core::Scenario`].
//!
//! Reading goes: TOML syntax (with line numbers) → typed tables (unknown keys are errors) →
//! resolution (series read and resampled onto the grid, names turned into indices, every
//! value range-checked with the line it came from) → [`Scenario::validate`] as the last gate.

use crate::error::InputError;
use crate::series::{self, format_timestamp, parse_timestamp, Bounds, GapRule, SeriesFormat};
use crate::traces::{self, TimeUnit, TraceFormat, TraceOptions, TraceTime};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use suandian_core::forecast::ForecastKind;
use suandian_core::{
    Accelerators, Battery, CarbonBasis, DemandResponseEvent, DispatchRule, Economics, GreenKind,
    GreenPlant, GridConnection, InferenceDemand, Job, Pue, Scenario, Site, Thermal, TimeGrid,
    DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR, DEFAULT_MIGRATION_H, DEFAULT_RESTART_H,
    DEFAULT_TRANSFER_COST_PER_GB,
};

/// The scenario format version this reader understands.
pub const FORMAT_VERSION: i64 = 1;

/// A scenario read, resolved and validated.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// Validated.
    pub scenario: Scenario,
    /// From the optional `[simulation]` table.
    pub simulation: SimulationDefaults,
    /// Everything adjusted or skipped while reading (never silently).
    pub warnings: Vec<String>,
    /// The file path, or `"built-in demo"`.
    pub source: String,
    /// Every file read to build it (the scenario file, its series and traces): what a run's
    /// outputs must not overwrite.
    pub inputs: Vec<PathBuf>,
}

/// Run settings a scenario may suggest (the CLI's flags override them).
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationDefaults {
    pub forecast: ForecastKind,
    pub policies: Vec<String>,
}

impl Default for SimulationDefaults {
    fn default() -> Self {
        Self {
            forecast: ForecastKind::Perfect,
            // Every policy: the baselines, the planner and its bound (the flagship is what a
            // first run shows).
            policies: suandian_core::policy::names().map(str::to_string).collect(),
        }
    }
}

/// Read a scenario file. Relative paths inside it resolve against the file's folder.
pub fn load(path: &Path) -> Result<LoadedScenario, InputError> {
    let name = path.display().to_string();
    let text = crate::files::read_input(path, &name)?;
    let base = path.parent().unwrap_or_else(|| Path::new(""));
    let mut loaded = from_toml_str(&text, &name, base)?;
    loaded.inputs.insert(0, path.to_path_buf());
    Ok(loaded)
}

/// Read a scenario from TOML text. `source_name` names it in messages; relative file paths
/// resolve against `base_dir`.
pub fn from_toml_str(
    text: &str,
    source_name: &str,
    base_dir: &Path,
) -> Result<LoadedScenario, InputError> {
    let loc = Locator::new(text, source_name)?;
    // The version first: a file of another version would fail on its keys with a worse message.
    match loc.doc().as_table().get("version") {
        None => {
            return Err(InputError::value(
                source_name,
                Some(1),
                "version",
                "no version key",
                format!("version = {FORMAT_VERSION} at the top of the file"),
            ))
        }
        Some(item) => {
            if item.as_integer() != Some(FORMAT_VERSION) {
                let found = item.as_value().map_or_else(
                    || "a table".to_string(),
                    |v| v.to_string().trim().to_string(),
                );
                return Err(InputError::value(
                    source_name,
                    loc.line("version"),
                    "version",
                    found,
                    format!("version = {FORMAT_VERSION} (the only version this build reads)"),
                ));
            }
        }
    }
    // The spans are not needed while the schema is read: not holding two parsed copies at
    // once halves the memory a large file takes.
    let mut loc = loc;
    loc.release();
    let def: FileDef = toml::from_str(text).map_err(|e| loc.de_error(e.message(), e.span()))?;
    let mut r = Resolver {
        file: source_name.to_string(),
        base_dir: base_dir.to_path_buf(),
        loc,
        grid: TimeGrid {
            start: chrono::DateTime::UNIX_EPOCH,
            slot_minutes: 60,
            slots: 0,
        },
        gaps: GapRule::Error,
        warnings: Vec::new(),
        inputs: Vec::new(),
    };
    r.resolve(def)
}

// ---------------------------------------------------------------------------------------------
// Line numbers for field paths

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                out.push(Seg::Key(rest[..b].to_string()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(e) = stripped.find(']') else { break };
                if let Ok(i) = stripped[..e].parse() {
                    out.push(Seg::Index(i));
                }
                rest = &stripped[e + 1..];
            }
        } else if !rest.is_empty() {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a toml_edit::Table),
    Inline(&'a toml_edit::InlineTable),
    Aot(&'a toml_edit::ArrayOfTables),
    Array(&'a toml_edit::Array),
    Leaf,
}

impl<'a> Node<'a> {
    fn of_item(i: &'a toml_edit::Item) -> (Node<'a>, Option<usize>) {
        match i {
            toml_edit::Item::Table(t) => (Node::Table(t), t.span().map(|s| s.start)),
            toml_edit::Item::ArrayOfTables(a) => (Node::Aot(a), a.span().map(|s| s.start)),
            toml_edit::Item::Value(v) => Node::of_value(v),
            toml_edit::Item::None => (Node::Leaf, None),
        }
    }
    fn of_value(v: &'a toml_edit::Value) -> (Node<'a>, Option<usize>) {
        let at = v.span().map(|s| s.start);
        match v {
            toml_edit::Value::InlineTable(t) => (Node::Inline(t), at),
            toml_edit::Value::Array(a) => (Node::Array(a), at),
            _ => (Node::Leaf, at),
        }
    }
}

/// Maps field paths such as `sites[1].battery.soc_min` to lines of the TOML text.
struct Locator {
    /// The parsed document with its spans: parsed when the locator is made (the syntax
    /// check), released while the file is read into its schema (it is the largest thing held:
    /// ~20 times the text), parsed again only if a message needs a line.
    doc: std::cell::OnceCell<toml_edit::ImDocument<String>>,
    line_starts: Vec<usize>,
    text: String,
    file: String,
}

impl Locator {
    /// The document, parsed again if it was released (it parsed once: it parses again).
    fn doc(&self) -> &toml_edit::ImDocument<String> {
        self.doc.get_or_init(|| {
            toml_edit::ImDocument::parse(self.text.clone()).expect("the text parsed before")
        })
    }

    /// Drop the parsed document until a message needs it.
    fn release(&mut self) {
        self.doc = std::cell::OnceCell::new();
    }

    fn new(text: &str, file: &str) -> Result<Self, InputError> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let me = Locator {
            doc: std::cell::OnceCell::new(),
            line_starts,
            text: text.to_string(),
            file: file.to_string(),
        };
        match toml_edit::ImDocument::parse(text.to_string()) {
            Ok(doc) => {
                let _ = me.doc.set(doc);
                Ok(me)
            }
            Err(e) => {
                let (line, col) = e.span().map_or((None, None), |s| {
                    let (l, c) = me.line_col(s.start);
                    (Some(l), Some(c))
                });
                Err(InputError::syntax(
                    file,
                    line,
                    col,
                    format!("not valid TOML: {}", e.message().trim()),
                ))
            }
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let l = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[l - 1];
        let col = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(1, |s| s.chars().count() + 1);
        (l, col)
    }

    /// The line of the deepest part of `path` that exists in the document.
    fn line(&self, path: &str) -> Option<usize> {
        let mut node = Node::Table(self.doc().as_table());
        let mut best: Option<usize> = None;
        for seg in parse_path(path) {
            let (next, at, key_at) = match (node, &seg) {
                (Node::Table(t), Seg::Key(k)) => match t.get(k) {
                    Some(i) => {
                        let (n, at) = Node::of_item(i);
                        (n, at, t.key(k).and_then(|k| k.span()).map(|s| s.start))
                    }
                    None => break,
                },
                (Node::Inline(t), Seg::Key(k)) => match t.get(k) {
                    Some(v) => {
                        let (n, at) = Node::of_value(v);
                        (n, at, t.key(k).and_then(|k| k.span()).map(|s| s.start))
                    }
                    None => break,
                },
                (Node::Aot(a), Seg::Index(i)) => match a.get(*i) {
                    Some(t) => (Node::Table(t), t.span().map(|s| s.start), None),
                    None => break,
                },
                (Node::Array(a), Seg::Index(i)) => match a.get(*i) {
                    Some(v) => {
                        let (n, at) = Node::of_value(v);
                        (n, at, None)
                    }
                    None => break,
                },
                _ => break,
            };
            best = key_at.or(at).or(best);
            if let Some(a) = at {
                // A value on the key's line is the better place; a table header is too.
                best = Some(a);
            }
            node = next;
        }
        best.map(|o| self.line_col(o).0)
    }

    /// The path of the last key or table header that starts at or before `offset`.
    fn path_at(&self, offset: usize) -> Option<String> {
        fn walk(node: Node<'_>, path: &str, out: &mut Vec<(usize, String)>) {
            let join = |k: &str| {
                if path.is_empty() {
                    k.to_string()
                } else {
                    format!("{path}.{k}")
                }
            };
            match node {
                Node::Table(t) => {
                    for (k, item) in t.iter() {
                        let p = join(k);
                        if let Some(s) = t.key(k).and_then(|k| k.span()) {
                            out.push((s.start, p.clone()));
                        }
                        let (n, at) = Node::of_item(item);
                        if let (Some(a), Node::Table(_)) = (at, n) {
                            out.push((a, p.clone()));
                        }
                        walk(n, &p, out);
                    }
                }
                Node::Inline(t) => {
                    for (k, v) in t.iter() {
                        let p = join(k);
                        if let Some(s) = t.key(k).and_then(|k| k.span()) {
                            out.push((s.start, p.clone()));
                        }
                        walk(Node::of_value(v).0, &p, out);
                    }
                }
                Node::Aot(a) => {
                    for (i, t) in a.iter().enumerate() {
                        let p = format!("{path}[{i}]");
                        if let Some(s) = t.span() {
                            out.push((s.start, p.clone()));
                        }
                        walk(Node::Table(t), &p, out);
                    }
                }
                Node::Array(a) => {
                    for (i, v) in a.iter().enumerate() {
                        let p = format!("{path}[{i}]");
                        if let Some(s) = v.span() {
                            out.push((s.start, p.clone()));
                        }
                        walk(Node::of_value(v).0, &p, out);
                    }
                }
                Node::Leaf => {}
            }
        }
        let mut all = Vec::new();
        walk(Node::Table(self.doc().as_table()), "", &mut all);
        all.into_iter()
            .filter(|(s, _)| *s <= offset)
            .max_by_key(|(s, _)| *s)
            .map(|(_, p)| p)
    }

    /// A serde error from the typed pass, with its line and the path it is about.
    fn de_error(&self, message: &str, span: Option<std::ops::Range<usize>>) -> InputError {
        let message = message.trim();
        let message = match message.strip_prefix("missing field ") {
            Some(f) => format!(
                "missing key {f} (expected `{} = ...` in this table)",
                f.trim_matches('`')
            ),
            None => message.to_string(),
        };
        match span {
            Some(s) => {
                let (l, c) = self.line_col(s.start);
                let message = match self.path_at(s.start) {
                    Some(p) => format!("{p}: {message}"),
                    None => message,
                };
                InputError::syntax(&self.file, Some(l), Some(c), message)
            }
            None => InputError::syntax(&self.file, None, None, message),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The typed file

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    #[allow(dead_code)]
    version: i64,
    name: String,
    time: TimeDef,
    #[serde(default)]
    simulation: SimDef,
    #[serde(default)]
    economics: EconDef,
    #[serde(default)]
    dispatch: DispatchDef,
    #[serde(default)]
    sites: Vec<SiteDef>,
    #[serde(default)]
    work: WorkDef,
    #[serde(default)]
    inference: Vec<InferenceDef>,
    #[serde(default)]
    demand_response: Vec<DemandResponseDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeDef {
    start: toml::Value,
    slot_minutes: i64,
    horizon_hours: Option<f64>,
    end: Option<toml::Value>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum ForecastName {
    #[default]
    Perfect,
    Persistence,
    Noisy,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SimDef {
    #[serde(default)]
    forecast: ForecastName,
    forecast_error: Option<f64>,
    seed: Option<u64>,
    policies: Option<Vec<String>>,
    #[serde(default)]
    gaps: GapRule,
}

#[derive(Deserialize, Clone, Copy, Default)]
#[serde(rename_all = "lowercase")]
enum BasisDef {
    #[default]
    Location,
    Market,
}

fn usd() -> String {
    "USD".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EconDef {
    #[serde(default = "usd")]
    currency: String,
    #[serde(default)]
    carbon_price_per_t: f64,
    #[serde(default)]
    carbon_price_basis: BasisDef,
    #[serde(default)]
    value_per_million_tokens: f64,
    #[serde(default = "transfer_cost")]
    transfer_cost_per_gb: f64,
    #[serde(default)]
    over_limit_per_kwh: Option<f64>,
}

fn transfer_cost() -> f64 {
    DEFAULT_TRANSFER_COST_PER_GB
}

impl Default for EconDef {
    fn default() -> Self {
        Self {
            currency: usd(),
            carbon_price_per_t: 0.0,
            carbon_price_basis: BasisDef::Location,
            value_per_million_tokens: 0.0,
            transfer_cost_per_gb: DEFAULT_TRANSFER_COST_PER_GB,
            over_limit_per_kwh: None,
        }
    }
}

fn h24() -> f64 {
    24.0
}
fn migration_hours() -> f64 {
    DEFAULT_MIGRATION_H
}
fn restart_hours() -> f64 {
    DEFAULT_RESTART_H
}
fn checkpoint_per_acc() -> f64 {
    DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DispatchDef {
    #[serde(default = "h24")]
    trailing_window_h: f64,
    #[serde(default = "migration_hours")]
    migration_hours: f64,
    #[serde(default = "restart_hours")]
    restart_hours: f64,
    #[serde(default = "checkpoint_per_acc")]
    checkpoint_gb_per_accelerator: f64,
}

impl Default for DispatchDef {
    fn default() -> Self {
        Self {
            trailing_window_h: 24.0,
            migration_hours: DEFAULT_MIGRATION_H,
            restart_hours: DEFAULT_RESTART_H,
            checkpoint_gb_per_accelerator: DEFAULT_CHECKPOINT_GB_PER_ACCELERATOR,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteDef {
    name: String,
    region: String,
    latitude: f64,
    longitude: f64,
    accelerators: AccDef,
    pue: toml::Value,
    grid: GridDef,
    #[serde(default)]
    green: Vec<GreenDef>,
    battery: Option<BatteryDef>,
    thermal: Option<ThermalDef>,
}

fn eight() -> u32 {
    8
}
fn point3() -> f64 {
    0.3
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccDef {
    count: i64,
    model: String,
    idle_w: f64,
    peak_w: f64,
    #[serde(default = "eight")]
    per_server: u32,
    #[serde(default)]
    other_it_w_per_server: f64,
    #[serde(default = "point3")]
    min_power_level: f64,
    #[serde(default = "one")]
    throughput_exponent: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PueTableDef {
    base: f64,
    threshold_c: f64,
    per_degree: f64,
    max: f64,
    temperature: toml::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GridDef {
    import_limit_kw: f64,
    #[serde(default)]
    export_limit_kw: f64,
    /// A number (a fixed tariff) or any series.
    feed_in_price_per_mwh: Option<toml::Value>,
    price: toml::Value,
    carbon: toml::Value,
    residual_mix_g_co2_per_kwh: Option<f64>,
    #[serde(default)]
    green_certificates_kwh: f64,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum GreenKindDef {
    Solar,
    Wind,
    Other,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GreenDef {
    name: String,
    kind: GreenKindDef,
    capacity_kw: f64,
    capacity_factor: toml::Value,
}

fn half() -> f64 {
    0.5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatteryDef {
    capacity_kwh: f64,
    power_kw: f64,
    round_trip_efficiency: f64,
    #[serde(default)]
    soc_min: f64,
    #[serde(default = "one")]
    soc_max: f64,
    #[serde(default = "half")]
    soc_initial: f64,
    wear_cost_per_kwh: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThermalDef {
    capacity_kw: f64,
    cost_per_kwh: f64,
    g_co2_per_kwh: f64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct WorkDef {
    default_max_delay_h: Option<f64>,
    #[serde(default)]
    traces: Vec<TraceDef>,
    #[serde(default)]
    jobs: Vec<JobDef>,
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum OutsideHorizon {
    #[default]
    Error,
    Drop,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceDef {
    file: String,
    format: TraceFormat,
    time_unit: Option<TimeUnit>,
    #[serde(default)]
    offset_h: f64,
    id_prefix: Option<String>,
    home_site: Option<String>,
    allowed_sites: Option<Vec<String>>,
    #[serde(default = "yes")]
    interruptible: bool,
    #[serde(default)]
    migratable: bool,
    max_delay_h: Option<f64>,
    #[serde(default = "one")]
    accelerators_per_cpu: f64,
    limit: Option<usize>,
    #[serde(default)]
    outside_horizon: OutsideHorizon,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobDef {
    id: String,
    arrival: Option<toml::Value>,
    arrival_h: Option<f64>,
    accelerators: i64,
    runtime_h: f64,
    deadline: Option<toml::Value>,
    max_delay_h: Option<f64>,
    #[serde(default = "yes")]
    interruptible: bool,
    #[serde(default)]
    migratable: bool,
    allowed_sites: Option<Vec<String>>,
    home_site: Option<String>,
    checkpoint_gb: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InferenceDef {
    region: String,
    tokens_per_s: toml::Value,
    sites: Vec<String>,
    joules_per_token: Vec<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemandResponseDef {
    id: String,
    sites: Option<Vec<String>>,
    start: toml::Value,
    end: toml::Value,
    announced: Option<toml::Value>,
    import_cap_kw: f64,
    penalty_per_kwh: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesTableDef {
    values: Option<Vec<f64>>,
    daily: Option<Vec<f64>>,
    file: Option<String>,
    format: Option<SeriesFormat>,
    column: Option<String>,
    #[serde(default = "one")]
    scale: f64,
    gaps: Option<GapRule>,
    /// The offset of timestamps that give none, e.g. "+10:00" (default UTC).
    utc_offset: Option<String>,
}

/// `+HH:MM`, `-HH:MM`, `+HH` or `Z` as seconds east of UTC.
fn parse_utc_offset(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h.parse::<i64>().ok()?, m.parse::<i64>().ok()?),
        None => (rest.parse::<i64>().ok()?, 0),
    };
    ((0..=14).contains(&h) && (0..60).contains(&m)).then_some(sign * (h * 3600 + m * 60))
}

// ---------------------------------------------------------------------------------------------
// Resolution

struct Resolver {
    file: String,
    base_dir: PathBuf,
    loc: Locator,
    grid: TimeGrid,
    gaps: GapRule,
    warnings: Vec<String>,
    /// Files read so far (series, traces).
    inputs: Vec<PathBuf>,
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("the boolean {b}"),
        toml::Value::Datetime(d) => format!("the date-time {d}"),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

impl Resolver {
    fn err(
        &self,
        path: &str,
        found: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> InputError {
        InputError::value(&self.file, self.loc.line(path), path, found, expected)
    }

    fn check(&self, path: &str, v: f64, ok: bool, expected: &str) -> Result<(), InputError> {
        if ok && v.is_finite() {
            Ok(())
        } else {
            Err(self.err(path, v, expected))
        }
    }
    fn nonneg(&self, path: &str, v: f64) -> Result<(), InputError> {
        self.check(path, v, v >= 0.0, "a number >= 0")
    }
    fn fraction(&self, path: &str, v: f64) -> Result<(), InputError> {
        self.check(path, v, (0.0..=1.0).contains(&v), "a fraction 0..=1")
    }

    /// Deserialize a sub-table given as a `toml::Value` (unknown keys are errors here too).
    fn typed<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        v: &toml::Value,
    ) -> Result<T, InputError> {
        v.clone().try_into::<T>().map_err(|e| {
            let msg = e.message().trim().to_string();
            let msg = match msg.strip_prefix("missing field ") {
                Some(f) => format!("missing key {f}"),
                None => msg,
            };
            InputError::syntax(
                &self.file,
                self.loc.line(path),
                None,
                format!("{path}: {msg}"),
            )
        })
    }

    fn time(&self, path: &str, v: &toml::Value) -> Result<i64, InputError> {
        let s = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) => d.to_string(),
            other => {
                return Err(self.err(
                    path,
                    describe(other),
                    "an RFC 3339 time like \"2022-06-01T00:00:00Z\"",
                ))
            }
        };
        parse_timestamp(&s).ok_or_else(|| {
            self.err(
                path,
                format!("{s:?}"),
                "an RFC 3339 time like \"2022-06-01T00:00:00Z\" (no offset: UTC)",
            )
        })
    }

    fn resolve(&mut self, def: FileDef) -> Result<LoadedScenario, InputError> {
        if def.name.trim().is_empty() {
            return Err(self.err("name", "an empty name", "a scenario name"));
        }
        self.resolve_time(&def.time)?;
        let simulation = self.resolve_simulation(&def.simulation)?;
        self.gaps = def.simulation.gaps;
        let economics = self.resolve_economics(&def.economics)?;
        self.nonneg("dispatch.trailing_window_h", def.dispatch.trailing_window_h)?;
        self.nonneg("dispatch.migration_hours", def.dispatch.migration_hours)?;
        self.nonneg("dispatch.restart_hours", def.dispatch.restart_hours)?;
        self.nonneg(
            "dispatch.checkpoint_gb_per_accelerator",
            def.dispatch.checkpoint_gb_per_accelerator,
        )?;
        let dispatch = DispatchRule {
            trailing_window_h: def.dispatch.trailing_window_h,
            migration_h: def.dispatch.migration_hours,
            restart_h: def.dispatch.restart_hours,
        };
        if def.sites.is_empty() {
            return Err(self.err("sites", "no [[sites]]", "at least one site"));
        }
        let mut sites = Vec::with_capacity(def.sites.len());
        let mut names: HashMap<String, usize> = HashMap::new();
        for (i, s) in def.sites.iter().enumerate() {
            let p = format!("sites[{i}]");
            if s.name.trim().is_empty() {
                return Err(self.err(&format!("{p}.name"), "an empty name", "a site name"));
            }
            if let Some(j) = names.insert(s.name.clone(), i) {
                return Err(self.err(
                    &format!("{p}.name"),
                    format!("{:?}, already the name of sites[{j}]", s.name),
                    "a unique site name",
                ));
            }
            sites.push(self.resolve_site(&p, s)?);
        }
        let site_names: Vec<String> = def.sites.iter().map(|s| s.name.clone()).collect();
        let jobs = self.resolve_work(
            &def.work,
            &sites,
            &site_names,
            def.dispatch.checkpoint_gb_per_accelerator,
        )?;
        let mut inference = Vec::with_capacity(def.inference.len());
        for (i, d) in def.inference.iter().enumerate() {
            inference.push(self.resolve_inference(
                &format!("inference[{i}]"),
                d,
                &sites,
                &site_names,
            )?);
        }
        let demand_response = self.resolve_demand_response(&def.demand_response, &site_names)?;
        let scenario = Scenario {
            name: def.name,
            grid: self.grid.clone(),
            sites,
            jobs,
            inference,
            economics,
            dispatch,
            demand_response,
        };
        scenario.validate().map_err(|source| InputError::Model {
            file: self.file.clone(),
            source,
        })?;
        Ok(LoadedScenario {
            scenario,
            simulation,
            warnings: std::mem::take(&mut self.warnings),
            source: self.file.clone(),
            inputs: std::mem::take(&mut self.inputs),
        })
    }

    fn resolve_time(&mut self, t: &TimeDef) -> Result<(), InputError> {
        let start = self.time("time.start", &t.start)?;
        if start % 60 != 0 {
            return Err(self.err(
                "time.start",
                format_timestamp(start),
                "a start on a whole minute",
            ));
        }
        let m = t.slot_minutes;
        if !(5..=60).contains(&m) || 60 % m != 0 {
            return Err(self.err(
                "time.slot_minutes",
                m,
                "5 to 60 minutes, dividing an hour (5, 6, 10, 12, 15, 20, 30 or 60)",
            ));
        }
        let horizon_min = match (&t.horizon_hours, &t.end) {
            (Some(h), None) => {
                if !(h.is_finite() && *h > 0.0) {
                    return Err(self.err("time.horizon_hours", h, "a number of hours > 0"));
                }
                let mins = h * 60.0;
                if (mins - mins.round()).abs() > 1e-6 || mins.round() as i64 % m != 0 {
                    return Err(self.err(
                        "time.horizon_hours",
                        h,
                        format!("a whole number of {m}-minute slots"),
                    ));
                }
                mins.round() as i64
            }
            (None, Some(e)) => {
                let end = self.time("time.end", e)?;
                if end <= start {
                    return Err(self.err(
                        "time.end",
                        format_timestamp(end),
                        format!("a time after time.start ({})", format_timestamp(start)),
                    ));
                }
                if (end - start) % (m * 60) != 0 {
                    return Err(self.err(
                        "time.end",
                        format_timestamp(end),
                        format!("a whole number of {m}-minute slots after time.start"),
                    ));
                }
                (end - start) / 60
            }
            (Some(_), Some(_)) => {
                return Err(self.err(
                    "time.end",
                    "both horizon_hours and end",
                    "one of horizon_hours or end",
                ))
            }
            (None, None) => {
                return Err(self.err(
                    "time",
                    "neither horizon_hours nor end",
                    "horizon_hours = <hours> or end = <time>",
                ))
            }
        };
        let slots = (horizon_min / m) as usize;
        const MAX_SLOTS: usize = 2_000_000;
        if slots > MAX_SLOTS {
            return Err(self.err(
                "time",
                format!("{slots} slots"),
                format!("at most {MAX_SLOTS} slots"),
            ));
        }
        self.grid = TimeGrid {
            start: chrono::DateTime::from_timestamp(start, 0)
                .ok_or_else(|| self.err("time.start", start, "a representable time"))?,
            slot_minutes: m as u32,
            slots,
        };
        Ok(())
    }

    fn resolve_simulation(&mut self, s: &SimDef) -> Result<SimulationDefaults, InputError> {
        let forecast = match s.forecast {
            ForecastName::Perfect => ForecastKind::Perfect,
            ForecastName::Persistence => ForecastKind::Persistence,
            ForecastName::Noisy => {
                let e = s.forecast_error.unwrap_or(0.1);
                self.check(
                    "simulation.forecast_error",
                    e,
                    e >= 0.0,
                    "a relative error >= 0 (0.15 = 15 %)",
                )?;
                ForecastKind::Noisy {
                    relative_error: e,
                    seed: s.seed.unwrap_or(0),
                }
            }
        };
        if s.forecast != ForecastName::Noisy && (s.forecast_error.is_some() || s.seed.is_some()) {
            self.warnings.push(format!(
                "{}: simulation.forecast_error and simulation.seed apply only to forecast = \"noisy\"; ignored",
                self.file
            ));
        }
        let policies = match &s.policies {
            None => SimulationDefaults::default().policies,
            Some(ps) => {
                if ps.is_empty() {
                    return Err(self.err(
                        "simulation.policies",
                        "an empty list",
                        "at least one policy",
                    ));
                }
                let known: Vec<&str> = suandian_core::policy::names().collect();
                for (i, p) in ps.iter().enumerate() {
                    if !known.contains(&p.as_str()) {
                        return Err(self.err(
                            &format!("simulation.policies[{i}]"),
                            format!("{p:?}"),
                            format!("one of {}", known.join(", ")),
                        ));
                    }
                }
                ps.clone()
            }
        };
        Ok(SimulationDefaults { forecast, policies })
    }

    fn resolve_economics(&self, e: &EconDef) -> Result<Economics, InputError> {
        self.nonneg("economics.carbon_price_per_t", e.carbon_price_per_t)?;
        self.nonneg(
            "economics.value_per_million_tokens",
            e.value_per_million_tokens,
        )?;
        self.nonneg("economics.transfer_cost_per_gb", e.transfer_cost_per_gb)?;
        if let Some(p) = e.over_limit_per_kwh {
            self.nonneg("economics.over_limit_per_kwh", p)?;
        }
        if e.currency.trim().is_empty() {
            return Err(self.err(
                "economics.currency",
                "an empty string",
                "a currency code such as USD",
            ));
        }
        Ok(Economics {
            currency: e.currency.clone(),
            carbon_price_per_t: e.carbon_price_per_t,
            carbon_price_basis: match e.carbon_price_basis {
                BasisDef::Location => CarbonBasis::Location,
                BasisDef::Market => CarbonBasis::Market,
            },
            value_per_million_tokens: e.value_per_million_tokens,
            transfer_cost_per_gb: e.transfer_cost_per_gb,
            over_limit_per_kwh: e.over_limit_per_kwh,
        })
    }

    /// Resolve a `<series>` value at `path` into one value per slot.
    pub(crate) fn series(
        &mut self,
        path: &str,
        v: &toml::Value,
        bounds: Bounds,
    ) -> Result<Vec<f64>, InputError> {
        let n = self.grid.slots;
        let t = match v {
            toml::Value::Integer(_) | toml::Value::Float(_) => {
                let c = v.as_float().unwrap_or_else(|| v.as_integer().unwrap_or(0) as f64);
                if !bounds.ok(c) {
                    return Err(self.err(path, c, bounds.expected));
                }
                return Ok(vec![c; n]);
            }
            toml::Value::Table(_) => self.typed::<SeriesTableDef>(path, v)?,
            other => {
                return Err(self.err(
                    path,
                    describe(other),
                    "a series: a number, { values = [...] }, { daily = [24 values] } or { file = \"...\", format = \"...\" }",
                ))
            }
        };
        if !(t.scale.is_finite()) {
            return Err(self.err(&format!("{path}.scale"), t.scale, "a finite number"));
        }
        let forms = [t.values.is_some(), t.daily.is_some(), t.file.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        if forms != 1 {
            return Err(self.err(
                path,
                format!("{forms} of values / daily / file"),
                "exactly one of values = [...], daily = [...] or file = \"...\"",
            ));
        }
        if t.file.is_none() && (t.format.is_some() || t.column.is_some() || t.gaps.is_some()) {
            return Err(self.err(
                path,
                "format / column / gaps without file",
                "these keys only with file = \"...\"",
            ));
        }
        if let Some(vals) = &t.values {
            if vals.len() != n {
                return Err(self.err(
                    &format!("{path}.values"),
                    format!("{} values", vals.len()),
                    format!("{n} values, one per slot"),
                ));
            }
            let out: Vec<f64> = vals.iter().map(|x| x * t.scale).collect();
            if let Some(i) = out.iter().position(|x| !bounds.ok(*x)) {
                return Err(self.err(&format!("{path}.values[{i}]"), out[i], bounds.expected));
            }
            return Ok(out);
        }
        if let Some(d) = &t.daily {
            let prof: [f64; 24] = d.as_slice().try_into().map_err(|_| {
                self.err(
                    &format!("{path}.daily"),
                    format!("{} values", d.len()),
                    "24 values, one per hour of the day (UTC)",
                )
            })?;
            let prof = prof.map(|x| x * t.scale);
            if let Some(i) = prof.iter().position(|x| !bounds.ok(*x)) {
                return Err(self.err(&format!("{path}.daily[{i}]"), prof[i], bounds.expected));
            }
            let raw = series::daily_profile(&prof, &self.grid, &self.file);
            return Ok(series::resample(&raw, &self.grid, GapRule::Error, Bounds::ANY)?.values);
        }
        let rel = t.file.as_deref().unwrap_or_default();
        let full = self.base_dir.join(rel);
        let shown = if self.base_dir.as_os_str().is_empty() {
            rel.to_string()
        } else {
            full.display().to_string()
        };
        let format = match t.format {
            Some(f) => f,
            None if rel.to_ascii_lowercase().ends_with(".json") => SeriesFormat::OpenMeteo,
            None => SeriesFormat::Generic,
        };
        let mut raw = series::read_file(&full, &shown, format, t.column.as_deref())?;
        self.inputs.push(full.clone());
        if let Some(o) = &t.utc_offset {
            let offset_s = parse_utc_offset(o).ok_or_else(|| {
                self.err(
                    &format!("{path}.utc_offset"),
                    format!("{o:?}"),
                    "an offset from UTC like \"+10:00\" or \"-05:00\"",
                )
            })?;
            raw.local_offset(offset_s)
                .map_err(|m| self.err(&format!("{path}.utc_offset"), format!("{o:?}"), &m))?;
        }
        raw.scale(t.scale);
        let gaps = t.gaps.unwrap_or(self.gaps);
        let r = series::resample(&raw, &self.grid, gaps, bounds)?;
        self.warnings.extend(r.warnings.iter().cloned());
        if r.gaps_filled > 0 {
            self.warnings.push(format!(
                "{shown}: filled {} gap(s) in {} for {path} (gaps = \"{}\")",
                r.gaps_filled,
                raw.column,
                if gaps == GapRule::Hold {
                    "hold"
                } else {
                    "interpolate"
                }
            ));
        }
        Ok(r.values)
    }

    fn resolve_site(&mut self, p: &str, s: &SiteDef) -> Result<Site, InputError> {
        self.check(
            &format!("{p}.latitude"),
            s.latitude,
            s.latitude.abs() <= 90.0,
            "degrees -90..=90",
        )?;
        self.check(
            &format!("{p}.longitude"),
            s.longitude,
            s.longitude.abs() <= 180.0,
            "degrees -180..=180",
        )?;
        let a = &s.accelerators;
        let ap = format!("{p}.accelerators");
        let most = suandian_core::limits::ACCELERATORS;
        if !(1..=i64::from(most)).contains(&a.count) {
            return Err(self.err(
                &format!("{ap}.count"),
                a.count,
                format!("a whole number from 1 to {most}"),
            ));
        }
        if a.per_server == 0 {
            return Err(self.err(&format!("{ap}.per_server"), 0, "a whole number >= 1"));
        }
        self.nonneg(&format!("{ap}.idle_w"), a.idle_w)?;
        self.check(
            &format!("{ap}.peak_w"),
            a.peak_w,
            a.peak_w >= a.idle_w,
            &format!("watts >= idle_w ({})", a.idle_w),
        )?;
        self.nonneg(
            &format!("{ap}.other_it_w_per_server"),
            a.other_it_w_per_server,
        )?;
        self.check(
            &format!("{ap}.min_power_level"),
            a.min_power_level,
            a.min_power_level > 0.0 && a.min_power_level <= 1.0,
            "a fraction in (0, 1]",
        )?;
        self.check(
            &format!("{ap}.throughput_exponent"),
            a.throughput_exponent,
            a.throughput_exponent > 0.0,
            "a number > 0",
        )?;
        let accelerators = Accelerators {
            count: a.count as u32,
            model: a.model.clone(),
            idle_w: a.idle_w,
            peak_w: a.peak_w,
            per_server: a.per_server,
            other_it_w_per_server: a.other_it_w_per_server,
            min_power_level: a.min_power_level,
            throughput_exponent: a.throughput_exponent,
        };
        let pp = format!("{p}.pue");
        let pue = match &s.pue {
            toml::Value::Integer(_) | toml::Value::Float(_) => {
                let v = s
                    .pue
                    .as_float()
                    .unwrap_or_else(|| s.pue.as_integer().unwrap_or(0) as f64);
                self.check(&pp, v, v >= 1.0, "a PUE >= 1.0")?;
                Pue::Constant { value: v }
            }
            toml::Value::Table(_) => {
                let t: PueTableDef = self.typed(&pp, &s.pue)?;
                self.check(&format!("{pp}.base"), t.base, t.base >= 1.0, "a PUE >= 1.0")?;
                self.check(
                    &format!("{pp}.max"),
                    t.max,
                    t.max >= t.base,
                    &format!("a PUE >= base ({})", t.base),
                )?;
                self.nonneg(&format!("{pp}.per_degree"), t.per_degree)?;
                self.check(
                    &format!("{pp}.threshold_c"),
                    t.threshold_c,
                    true,
                    "a temperature in °C",
                )?;
                let temperature_c =
                    self.series(&format!("{pp}.temperature"), &t.temperature, Bounds::ANY)?;
                Pue::Temperature {
                    base: t.base,
                    threshold_c: t.threshold_c,
                    per_degree: t.per_degree,
                    max: t.max,
                    temperature_c,
                }
            }
            other => {
                return Err(self.err(
                    &pp,
                    describe(other),
                    "a number >= 1.0 or { base, threshold_c, per_degree, max, temperature }",
                ))
            }
        };
        let g = &s.grid;
        let gp = format!("{p}.grid");
        self.nonneg(&format!("{gp}.import_limit_kw"), g.import_limit_kw)?;
        self.nonneg(&format!("{gp}.export_limit_kw"), g.export_limit_kw)?;
        self.nonneg(
            &format!("{gp}.green_certificates_kwh"),
            g.green_certificates_kwh,
        )?;
        if let Some(r) = g.residual_mix_g_co2_per_kwh {
            self.nonneg(&format!("{gp}.residual_mix_g_co2_per_kwh"), r)?;
        }
        let price_per_mwh = self.series(&format!("{gp}.price"), &g.price, Bounds::ANY)?;
        let feed_in_price_per_mwh = match &g.feed_in_price_per_mwh {
            Some(v) => self.series(&format!("{gp}.feed_in_price_per_mwh"), v, Bounds::ANY)?,
            None => vec![0.0; self.grid.slots],
        };
        let carbon_g_per_kwh = self.series(
            &format!("{gp}.carbon"),
            &g.carbon,
            Bounds {
                expected: "a carbon intensity >= 0 g/kWh",
                ..Bounds::NONNEG
            },
        )?;
        let grid = GridConnection {
            import_limit_kw: g.import_limit_kw,
            export_limit_kw: g.export_limit_kw,
            feed_in_price_per_mwh,
            price_per_mwh,
            carbon_g_per_kwh,
            residual_mix_g_co2_per_kwh: g.residual_mix_g_co2_per_kwh,
            green_certificates_kwh: g.green_certificates_kwh,
        };
        let mut green = Vec::with_capacity(s.green.len());
        for (k, gd) in s.green.iter().enumerate() {
            let q = format!("{p}.green[{k}]");
            self.nonneg(&format!("{q}.capacity_kw"), gd.capacity_kw)?;
            let capacity_factor = self.series(
                &format!("{q}.capacity_factor"),
                &gd.capacity_factor,
                Bounds {
                    expected: "a capacity factor 0..=1 (output per kW of capacity)",
                    ..Bounds::FRACTION
                },
            )?;
            green.push(GreenPlant {
                name: gd.name.clone(),
                kind: match gd.kind {
                    GreenKindDef::Solar => GreenKind::Solar,
                    GreenKindDef::Wind => GreenKind::Wind,
                    GreenKindDef::Other => GreenKind::Other,
                },
                capacity_kw: gd.capacity_kw,
                capacity_factor,
            });
        }
        let battery = match &s.battery {
            None => None,
            Some(b) => {
                let q = format!("{p}.battery");
                self.nonneg(&format!("{q}.capacity_kwh"), b.capacity_kwh)?;
                self.nonneg(&format!("{q}.power_kw"), b.power_kw)?;
                self.check(
                    &format!("{q}.round_trip_efficiency"),
                    b.round_trip_efficiency,
                    b.round_trip_efficiency > 0.0 && b.round_trip_efficiency <= 1.0,
                    "a fraction in (0, 1]",
                )?;
                self.fraction(&format!("{q}.soc_min"), b.soc_min)?;
                self.fraction(&format!("{q}.soc_max"), b.soc_max)?;
                self.check(
                    &format!("{q}.soc_max"),
                    b.soc_max,
                    b.soc_max >= b.soc_min,
                    &format!("a fraction >= soc_min ({})", b.soc_min),
                )?;
                self.check(
                    &format!("{q}.soc_initial"),
                    b.soc_initial,
                    b.soc_initial >= b.soc_min && b.soc_initial <= b.soc_max,
                    &format!(
                        "a fraction between soc_min ({}) and soc_max ({})",
                        b.soc_min, b.soc_max
                    ),
                )?;
                Some(Battery {
                    capacity_kwh: b.capacity_kwh,
                    power_kw: b.power_kw,
                    round_trip_efficiency: b.round_trip_efficiency,
                    soc_min: b.soc_min,
                    soc_max: b.soc_max,
                    soc_initial: b.soc_initial,
                    wear_cost_per_kwh: b.wear_cost_per_kwh,
                })
            }
        };
        let thermal = match &s.thermal {
            None => None,
            Some(t) => {
                let q = format!("{p}.thermal");
                self.nonneg(&format!("{q}.capacity_kw"), t.capacity_kw)?;
                self.nonneg(&format!("{q}.cost_per_kwh"), t.cost_per_kwh)?;
                self.nonneg(&format!("{q}.g_co2_per_kwh"), t.g_co2_per_kwh)?;
                Some(Thermal {
                    capacity_kw: t.capacity_kw,
                    cost_per_kwh: t.cost_per_kwh,
                    g_co2_per_kwh: t.g_co2_per_kwh,
                })
            }
        };
        Ok(Site {
            name: s.name.clone(),
            region: s.region.clone(),
            latitude: s.latitude,
            longitude: s.longitude,
            accelerators,
            pue,
            grid,
            green,
            battery,
            thermal,
        })
    }

    fn site_index(&self, path: &str, name: &str, names: &[String]) -> Result<usize, InputError> {
        names.iter().position(|n| n == name).ok_or_else(|| {
            self.err(
                path,
                format!("{name:?}, not a site of this scenario"),
                format!("one of the sites: {}", names.join(", ")),
            )
        })
    }

    /// A list of site names as indices: at least one, each known, none twice (a repeated
    /// site is a mistake in the file, not something to drop silently).
    fn site_list(
        &self,
        path: &str,
        list: &[String],
        names: &[String],
    ) -> Result<Vec<usize>, InputError> {
        if list.is_empty() {
            return Err(self.err(path, "an empty list", "at least one site"));
        }
        let mut v = Vec::with_capacity(list.len());
        for (i, n) in list.iter().enumerate() {
            let s = self.site_index(&format!("{path}[{i}]"), n, names)?;
            if v.contains(&s) {
                return Err(self.err(
                    &format!("{path}[{i}]"),
                    format!("{n:?} a second time"),
                    "each site once",
                ));
            }
            v.push(s);
        }
        Ok(v)
    }

    fn resolve_work(
        &mut self,
        w: &WorkDef,
        sites: &[Site],
        names: &[String],
        checkpoint_gb_per_accelerator: f64,
    ) -> Result<Vec<Job>, InputError> {
        if let Some(d) = w.default_max_delay_h {
            self.nonneg("work.default_max_delay_h", d)?;
        }
        let horizon_h = self.grid.horizon_h();
        let start = self.grid.start.timestamp();
        let all: Vec<usize> = (0..sites.len()).collect();
        let mut jobs: Vec<Job> = Vec::new();
        let mut ids: HashMap<String, String> = HashMap::new();
        // Where each id came from, for duplicate messages.
        let biggest = |allowed: &[usize]| {
            allowed
                .iter()
                .map(|s| sites[*s].accelerators.count)
                .max()
                .unwrap_or(0)
        };

        for (k, j) in w.jobs.iter().enumerate() {
            let p = format!("work.jobs[{k}]");
            if j.id.trim().is_empty() {
                return Err(self.err(&format!("{p}.id"), "an empty id", "a job id"));
            }
            let arrival_h = match (&j.arrival, j.arrival_h) {
                (Some(a), None) => (self.time(&format!("{p}.arrival"), a)? - start) as f64 / 3600.0,
                (None, Some(h)) => h,
                (Some(_), Some(_)) => {
                    return Err(self.err(
                        &format!("{p}.arrival_h"),
                        "both arrival and arrival_h",
                        "one of them",
                    ))
                }
                (None, None) => {
                    return Err(self.err(
                        &p,
                        "neither arrival nor arrival_h",
                        "arrival = <time> or arrival_h = <hours>",
                    ))
                }
            };
            let ap = if j.arrival.is_some() {
                "arrival"
            } else {
                "arrival_h"
            };
            self.check(
                &format!("{p}.{ap}"),
                arrival_h,
                arrival_h >= 0.0 && arrival_h < horizon_h,
                &format!("an arrival within the horizon, 0 <= arrival_h < {horizon_h} h"),
            )?;
            if !(1..=i64::from(u32::MAX)).contains(&j.accelerators) {
                return Err(self.err(
                    &format!("{p}.accelerators"),
                    j.accelerators,
                    "a whole number >= 1",
                ));
            }
            self.check(
                &format!("{p}.runtime_h"),
                j.runtime_h,
                j.runtime_h > 0.0,
                "a run time > 0 hours",
            )?;
            let allowed = match &j.allowed_sites {
                None => all.clone(),
                Some(list) => self.site_list(&format!("{p}.allowed_sites"), list, names)?,
            };
            let home = match &j.home_site {
                None => allowed[0],
                Some(h) => {
                    let s = self.site_index(&format!("{p}.home_site"), h, names)?;
                    if !allowed.contains(&s) {
                        return Err(self.err(
                            &format!("{p}.home_site"),
                            format!("{h:?}"),
                            "one of the job's allowed_sites",
                        ));
                    }
                    s
                }
            };
            let big = biggest(&allowed);
            if j.accelerators as u32 > big {
                return Err(self.err(
                    &format!("{p}.accelerators"),
                    j.accelerators,
                    format!("at most {big}, the most accelerators any allowed site has (the job can never fit)"),
                ));
            }
            let earliest_end = arrival_h + j.runtime_h;
            let deadline_h = match (&j.deadline, j.max_delay_h) {
                (Some(d), None) => {
                    let d = (self.time(&format!("{p}.deadline"), d)? - start) as f64 / 3600.0;
                    if d < earliest_end - 1e-9 {
                        return Err(self.err(
                            &format!("{p}.deadline"),
                            format!("{d} h after the start"),
                            format!("at least arrival + runtime = {earliest_end} h (the job can never meet it)"),
                        ));
                    }
                    d
                }
                (None, Some(m)) => {
                    self.nonneg(&format!("{p}.max_delay_h"), m)?;
                    earliest_end + m
                }
                (Some(_), Some(_)) => {
                    return Err(self.err(
                        &format!("{p}.max_delay_h"),
                        "both deadline and max_delay_h",
                        "one of them",
                    ))
                }
                (None, None) => w
                    .default_max_delay_h
                    .map_or(f64::INFINITY, |m| earliest_end + m),
            };
            let checkpoint_gb = match j.checkpoint_gb {
                Some(gb) => {
                    self.nonneg(&format!("{p}.checkpoint_gb"), gb)?;
                    gb
                }
                None => checkpoint_gb_per_accelerator * j.accelerators as f64,
            };
            if let Some(prev) = ids.insert(j.id.clone(), p.clone()) {
                return Err(self.err(
                    &format!("{p}.id"),
                    format!("{:?}, already used by {prev}", j.id),
                    "a unique job id",
                ));
            }
            jobs.push(Job {
                id: j.id.clone(),
                arrival_h,
                accelerators: j.accelerators as u32,
                runtime_h: j.runtime_h,
                deadline_h,
                interruptible: j.interruptible,
                migratable: j.migratable,
                allowed_sites: allowed,
                home_site: home,
                checkpoint_gb,
            });
        }

        for (k, t) in w.traces.iter().enumerate() {
            let p = format!("work.traces[{k}]");
            let full = self.base_dir.join(&t.file);
            let shown = if self.base_dir.as_os_str().is_empty() {
                t.file.clone()
            } else {
                full.display().to_string()
            };
            let time_unit = match (t.format, t.time_unit) {
                (TraceFormat::Gaia, Some(u)) => u,
                (TraceFormat::Gaia, None) => {
                    return Err(self.err(
                        &p,
                        "no time_unit",
                        "time_unit = \"hours\" or \"seconds\" for a GAIA trace (pai_1k is in seconds, pai-100k in hours)",
                    ))
                }
                (TraceFormat::AlibabaGpu, None | Some(TimeUnit::Seconds)) | (TraceFormat::Native, None) => TimeUnit::Hours,
                (_, Some(_)) => {
                    return Err(self.err(
                        &format!("{p}.time_unit"),
                        "a time_unit",
                        "no time_unit: it applies only to GAIA traces (Alibaba is in seconds, native uses times and hours)",
                    ))
                }
            };
            self.check(
                &format!("{p}.offset_h"),
                t.offset_h,
                true,
                "a finite number of hours",
            )?;
            if t.format != TraceFormat::Gaia && t.accelerators_per_cpu != 1.0 {
                return Err(self.err(
                    &format!("{p}.accelerators_per_cpu"),
                    t.accelerators_per_cpu,
                    "no accelerators_per_cpu: it applies only to GAIA traces",
                ));
            }
            self.check(
                &format!("{p}.accelerators_per_cpu"),
                t.accelerators_per_cpu,
                t.accelerators_per_cpu > 0.0,
                "a number > 0",
            )?;
            if let Some(m) = t.max_delay_h {
                self.nonneg(&format!("{p}.max_delay_h"), m)?;
            }
            let trace_allowed = match &t.allowed_sites {
                None => all.clone(),
                Some(list) => self.site_list(&format!("{p}.allowed_sites"), list, names)?,
            };
            let trace_home = match t.home_site.as_deref() {
                None | Some("round-robin") => None,
                Some(h) => {
                    let s = self.site_index(&format!("{p}.home_site"), h, names)?;
                    if !trace_allowed.contains(&s) {
                        return Err(self.err(
                            &format!("{p}.home_site"),
                            format!("{h:?}"),
                            "one of the trace's allowed_sites, or \"round-robin\"",
                        ));
                    }
                    Some(s)
                }
            };
            let opts = TraceOptions {
                time_unit,
                accelerators_per_cpu: t.accelerators_per_cpu,
                limit: t.limit,
            };
            let trace = traces::read_trace(&full, &shown, t.format, &opts)?;
            self.inputs.push(full.clone());
            self.warnings.extend(trace.warnings.iter().cloned());
            let prefix = t.id_prefix.clone();
            let (mut dropped, mut rr) = (0usize, 0usize);
            jobs.reserve(trace.jobs.len());
            let max_delay = t.max_delay_h.or(w.default_max_delay_h);
            for tj in &trace.jobs {
                let at = |field: &str, found: String, expected: String| {
                    InputError::value(&shown, Some(tj.line), field, found, expected)
                };
                let arrival_h = t.offset_h
                    + match tj.arrival {
                        TraceTime::SinceTraceStart(h) => h,
                        TraceTime::Utc(s) => (s - start) as f64 / 3600.0,
                    };
                if !(arrival_h >= 0.0 && arrival_h < horizon_h) {
                    if t.outside_horizon == OutsideHorizon::Drop {
                        dropped += 1;
                        continue;
                    }
                    return Err(at(
                        "arrival",
                        format!("{arrival_h} h after the scenario start (offset_h {})", t.offset_h),
                        format!(
                            "an arrival within the horizon 0..{horizon_h} h (or set outside_horizon = \"drop\" in {p})"
                        ),
                    ));
                }
                let allowed = match &tj.allowed_sites {
                    None => trace_allowed.clone(),
                    Some(list) => {
                        let mut v = Vec::new();
                        for n in list {
                            let s = names.iter().position(|x| x == n).ok_or_else(|| {
                                at(
                                    "allowed_sites",
                                    format!("{n:?}, not a site of this scenario"),
                                    format!("one of the sites: {}", names.join(", ")),
                                )
                            })?;
                            if !v.contains(&s) {
                                v.push(s);
                            }
                        }
                        if v.is_empty() {
                            return Err(at(
                                "allowed_sites",
                                "no sites".into(),
                                "at least one site".into(),
                            ));
                        }
                        v
                    }
                };
                let home = match &tj.home_site {
                    Some(h) => {
                        let s = names.iter().position(|x| x == h).ok_or_else(|| {
                            at(
                                "home_site",
                                format!("{h:?}, not a site of this scenario"),
                                format!("one of the sites: {}", names.join(", ")),
                            )
                        })?;
                        if !allowed.contains(&s) {
                            return Err(at(
                                "home_site",
                                format!("{h:?}"),
                                "one of the job's allowed sites".into(),
                            ));
                        }
                        s
                    }
                    None => match trace_home.filter(|h| allowed.contains(h)) {
                        Some(h) => h,
                        None => {
                            rr += 1;
                            allowed[(rr - 1) % allowed.len()]
                        }
                    },
                };
                let big = biggest(&allowed);
                if tj.accelerators > big {
                    let what = if t.format == TraceFormat::Gaia {
                        " (lower accelerators_per_cpu or add capacity)"
                    } else {
                        ""
                    };
                    return Err(at(
                        "accelerators",
                        tj.accelerators.to_string(),
                        format!(
                            "at most {big}, the most accelerators any allowed site has (the job can never fit){what}"
                        ),
                    ));
                }
                let earliest_end = arrival_h + tj.runtime_h;
                let deadline_h = match tj.deadline {
                    Some(d) => {
                        let d = (d - start) as f64 / 3600.0 + t.offset_h;
                        if d < earliest_end - 1e-9 {
                            return Err(at(
                                "deadline",
                                format!("{d} h after the start"),
                                format!("at least arrival + runtime = {earliest_end} h (the job can never meet it)"),
                            ));
                        }
                        d
                    }
                    None => max_delay.map_or(f64::INFINITY, |m| earliest_end + m),
                };
                let id = match &prefix {
                    Some(pre) => format!("{pre}{}", tj.id),
                    None => tj.id.clone(),
                };
                if let Some(prev) = ids.insert(id.clone(), format!("{shown} line {}", tj.line)) {
                    return Err(at(
                        "id",
                        format!("{id:?}, already used by {prev}"),
                        format!("a unique job id (set id_prefix in {p} to tell traces apart)"),
                    ));
                }
                jobs.push(Job {
                    id,
                    arrival_h,
                    accelerators: tj.accelerators,
                    runtime_h: tj.runtime_h,
                    deadline_h,
                    interruptible: tj.interruptible.unwrap_or(t.interruptible),
                    migratable: tj.migratable.unwrap_or(t.migratable),
                    allowed_sites: allowed,
                    home_site: home,
                    checkpoint_gb: checkpoint_gb_per_accelerator * f64::from(tj.accelerators),
                });
            }
            if dropped > 0 {
                self.warnings.push(format!(
                    "{shown} ({p}{}): dropped {dropped} of {} jobs arriving outside the horizon (outside_horizon = \"drop\")",
                    t.id_prefix.as_deref().map_or(String::new(), |x| format!(", id_prefix {x:?}")),
                    trace.jobs.len()
                ));
            }
        }
        // Stable: equal arrivals keep file order.
        jobs.sort_by(|a, b| a.arrival_h.total_cmp(&b.arrival_h));
        Ok(jobs)
    }

    fn resolve_demand_response(
        &mut self,
        defs: &[DemandResponseDef],
        names: &[String],
    ) -> Result<Vec<DemandResponseEvent>, InputError> {
        let start = self.grid.start.timestamp();
        let horizon_h = self.grid.horizon_h();
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut out = Vec::with_capacity(defs.len());
        for (k, d) in defs.iter().enumerate() {
            let p = format!("demand_response[{k}]");
            if d.id.trim().is_empty() {
                return Err(self.err(&format!("{p}.id"), "an empty id", "an event id"));
            }
            if let Some(prev) = ids.insert(&d.id, k) {
                return Err(self.err(
                    &format!("{p}.id"),
                    format!("{:?}, already the id of demand_response[{prev}]", d.id),
                    "a unique event id",
                ));
            }
            let ev = format!("(event {:?})", d.id);
            let sites = match &d.sites {
                None => (0..names.len()).collect(),
                Some(list) => {
                    if list.is_empty() {
                        return Err(self.err(
                            &format!("{p}.sites"),
                            format!("an empty list {ev}"),
                            "at least one site, or no `sites` key for every site",
                        ));
                    }
                    let mut v: Vec<usize> = Vec::with_capacity(list.len());
                    for (i, n) in list.iter().enumerate() {
                        let path = format!("{p}.sites[{i}]");
                        let s = names.iter().position(|x| x == n).ok_or_else(|| {
                            self.err(
                                &path,
                                format!("{n:?} {ev}, not a site of this scenario"),
                                format!("one of the sites: {}", names.join(", ")),
                            )
                        })?;
                        if v.contains(&s) {
                            return Err(self.err(
                                &path,
                                format!("{n:?} twice {ev}"),
                                "each site once",
                            ));
                        }
                        v.push(s);
                    }
                    v
                }
            };
            let t_start = self.time(&format!("{p}.start"), &d.start)?;
            let t_end = self.time(&format!("{p}.end"), &d.end)?;
            if t_end <= t_start {
                return Err(self.err(
                    &format!("{p}.end"),
                    format!("{} {ev}", format_timestamp(t_end)),
                    format!("a time after its start, {}", format_timestamp(t_start)),
                ));
            }
            let t_announced = match &d.announced {
                None => t_start,
                Some(a) => {
                    let t = self.time(&format!("{p}.announced"), a)?;
                    if t > t_start {
                        return Err(self.err(
                            &format!("{p}.announced"),
                            format!("{} {ev}", format_timestamp(t)),
                            format!(
                                "a time at or before its start, {} (omit it for an event without notice)",
                                format_timestamp(t_start)
                            ),
                        ));
                    }
                    t
                }
            };
            if !(d.import_cap_kw.is_finite() && d.import_cap_kw >= 0.0) {
                return Err(self.err(
                    &format!("{p}.import_cap_kw"),
                    format!("{} {ev}", d.import_cap_kw),
                    "a number >= 0",
                ));
            }
            if let Some(pen) = d.penalty_per_kwh {
                if !(pen.is_finite() && pen >= 0.0) {
                    return Err(self.err(
                        &format!("{p}.penalty_per_kwh"),
                        format!("{pen} {ev}"),
                        "a number >= 0 (currency per kWh above the cap)",
                    ));
                }
            }
            let hours = |t: i64| (t - start) as f64 / 3600.0;
            let (start_h, end_h) = (hours(t_start), hours(t_end));
            if end_h <= 0.0 || start_h >= horizon_h {
                self.warnings.push(format!(
                    "{}: demand_response[{k}] (event {:?}, {} to {}) lies outside the horizon; it has no effect",
                    self.file,
                    d.id,
                    format_timestamp(t_start),
                    format_timestamp(t_end)
                ));
            }
            out.push(DemandResponseEvent {
                id: d.id.clone(),
                sites,
                start_h,
                end_h,
                announced_h: hours(t_announced),
                import_cap_kw: d.import_cap_kw,
                penalty_per_kwh: d.penalty_per_kwh,
            });
        }
        Ok(out)
    }

    fn resolve_inference(
        &mut self,
        p: &str,
        d: &InferenceDef,
        sites: &[Site],
        names: &[String],
    ) -> Result<InferenceDemand, InputError> {
        if d.sites.is_empty() {
            return Err(self.err(
                &format!("{p}.sites"),
                "an empty list",
                "at least one latency-eligible site",
            ));
        }
        let mut idx = Vec::with_capacity(d.sites.len());
        let mut seen = HashSet::new();
        for (i, n) in d.sites.iter().enumerate() {
            let s = self.site_index(&format!("{p}.sites[{i}]"), n, names)?;
            if !seen.insert(s) {
                return Err(self.err(
                    &format!("{p}.sites[{i}]"),
                    format!("{n:?} twice"),
                    "each site once",
                ));
            }
            let a = &sites[s].accelerators;
            if a.peak_w <= a.idle_w {
                return Err(self.err(
                    &format!("{p}.sites[{i}]"),
                    format!("{n:?}, whose accelerators have peak_w = idle_w"),
                    "a site with peak_w > idle_w (inference throughput is derived from it)",
                ));
            }
            idx.push(s);
        }
        if d.joules_per_token.len() != idx.len() {
            return Err(self.err(
                &format!("{p}.joules_per_token"),
                format!("{} values", d.joules_per_token.len()),
                format!("{} values, one per site in `sites`", idx.len()),
            ));
        }
        for (i, j) in d.joules_per_token.iter().enumerate() {
            self.check(
                &format!("{p}.joules_per_token[{i}]"),
                *j,
                *j > 0.0,
                "energy per token > 0 J",
            )?;
        }
        let tokens_per_s = self.series(
            &format!("{p}.tokens_per_s"),
            &d.tokens_per_s,
            Bounds {
                expected: "a token rate >= 0 per second",
                ..Bounds::NONNEG
            },
        )?;
        Ok(InferenceDemand {
            region: d.region.clone(),
            tokens_per_s,
            sites: idx,
            joules_per_token: d.joules_per_token.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse_path("sites[1].battery.soc_min"),
            vec![
                Seg::Key("sites".into()),
                Seg::Index(1),
                Seg::Key("battery".into()),
                Seg::Key("soc_min".into())
            ]
        );
        assert_eq!(
            parse_path("a.b[2][3]"),
            vec![
                Seg::Key("a".into()),
                Seg::Key("b".into()),
                Seg::Index(2),
                Seg::Index(3)
            ]
        );
    }

    #[test]
    fn locator_finds_lines() {
        let text = "version = 1\nname = \"x\"\n[[sites]]\nname = \"a\"\n\n[[sites]]\nname = \"b\"\ngrid = { carbon = { values = [1, 2,\n 3] } }\n[sites.battery]\nsoc_min = 1.5\n";
        let l = Locator::new(text, "t.toml").unwrap();
        assert_eq!(l.line("version"), Some(1));
        assert_eq!(l.line("sites[1].name"), Some(7));
        assert_eq!(l.line("sites[1]"), Some(6));
        assert_eq!(l.line("sites[1].battery.soc_min"), Some(11));
        assert_eq!(l.line("sites[1].battery"), Some(10));
        assert_eq!(l.line("sites[1].grid.carbon.values[2]"), Some(9));
        // A missing key: the deepest existing parent.
        assert_eq!(l.line("sites[1].battery.capacity_kwh"), Some(10));
        assert_eq!(l.line("sites[1].grid.carbon.values[0]"), Some(8));
        assert_eq!(
            l.path_at(text.find("1.5").unwrap()).as_deref(),
            Some("sites[1].battery.soc_min")
        );
    }
}
