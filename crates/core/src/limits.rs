//! The plausible range of every number a scenario holds. Validation refuses a value outside
//! it, naming the field: a finite but absurd value (a grid of 1e308 g/kWh, a job of 1e308
//! hours) would otherwise overflow into `inf` and `NaN` results or make a policy's work grow
//! with the value rather than with the scenario. The bounds are far beyond any real system and
//! far below where arithmetic on them overflows; where physics gives one, it is named.

/// Carbon intensity of any supply (grid average, residual mix, thermal backup), g CO2/kWh.
/// The most carbon-intensive fossil plants, lignite, emit about 1,000-1,300 g/kWh at the
/// stack (IPCC AR5 WG3 Annex III, Table A.III.2); no grid average comes near 2,000.
pub const CARBON_G_PER_KWH: f64 = 2_000.0;

/// Size of a price per MWh (import or feed-in), either sign, in any currency. The highest
/// wholesale caps are a few tens of thousands per MWh (AEMO's market price cap was AUD 17,500
/// in 2024-25; Japan's JEPX peaked near JPY 251,000 in January 2021).
pub const PRICE_PER_MWH: f64 = 1_000_000.0;

/// A carbon price per tonne, in any currency.
pub const CARBON_PRICE_PER_T: f64 = 100_000.0;

/// Any other price or penalty: per kWh (thermal fuel, battery wear, over-limit penalties), per
/// GB moved, per million tokens.
pub const PRICE_PER_UNIT: f64 = 1_000_000.0;

/// Any power: a grid connection, a plant, a battery, a cap, kW (1 TW: all of China's
/// generating capacity is about 3 TW, a single site is far below).
pub const POWER_KW: f64 = 1e9;

/// Any energy: battery capacity, certificates, kWh.
pub const ENERGY_KWH: f64 = 1e12;

/// Power of one accelerator or one server's other IT, W.
pub const DEVICE_W: f64 = 100_000.0;

/// Accelerators at one site.
pub const ACCELERATORS: u32 = 100_000_000;

/// A job's run time, hours (ten years).
pub const RUNTIME_H: f64 = 87_600.0;

/// Any time in hours since the start (arrivals, deadlines, events): about 1,100 years.
pub const TIME_H: f64 = 10_000_000.0;

/// Inference demand of one region, tokens per second.
pub const TOKENS_PER_S: f64 = 1e12;

/// Energy of one token, joules (today's models use well under 10).
pub const JOULES_PER_TOKEN: f64 = 1_000_000.0;

/// Data a job's checkpoint holds, GB.
pub const CHECKPOINT_GB: f64 = 1e9;

/// Temperature, degrees C (either sign).
pub const TEMPERATURE_C: f64 = 100.0;

/// Power usage effectiveness.
pub const PUE: f64 = 10.0;

/// PUE per degree of temperature.
pub const PUE_PER_DEGREE: f64 = 1.0;

/// The exponent of a throughput curve (speed = level^exponent).
pub const THROUGHPUT_EXPONENT: f64 = 10.0;

/// Hours a rule looks back or a move or restart takes.
pub const DURATION_H: f64 = 10_000.0;
