#!/usr/bin/env python3
"""Writes the corpus of malformed and extreme scenarios (bad/, good/) from base.toml.

Each case is base.toml with one change; its first line says what the test expects:
`# expect: <text the error message must contain>` for bad/, `# expect: ok` for good/.
Run it from this folder after changing base.toml or the cases; the files are committed
(each is small), and tests/corpus.rs runs every one through every command.
"""
import os

BASE = open("base.toml").read()

def case(name, old, new, expect, folder="bad", count=1):
    assert BASE.count(old) >= count, (name, old)
    text = BASE.replace(old, new, count)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".toml"), "w") as f:
        f.write(f"# expect: {expect}\n" + text)

def raw(name, text, expect, folder="bad"):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".toml"), "w") as f:
        f.write(f"# expect: {expect}\n" + text)

# Overflowing but finite values, infinities and NaN.
case("runtime-huge", "runtime_h = 30", "runtime_h = 1e308", "runtime_h")
case("runtime-inf", "runtime_h = 30", "runtime_h = inf", "runtime_h")
case("runtime-nan", "runtime_h = 30", "runtime_h = nan", "runtime_h")
case("runtime-zero", "runtime_h = 30", "runtime_h = 0", "runtime_h")
case("flex-tier-out-of-range", "runtime_h = 30", "runtime_h = 30\nflex_tier = 4", "flex_tier")
case("flex-tier-negative", "runtime_h = 30", "runtime_h = 30\nflex_tier = -1", "flex_tier")
case("carbon-huge", "carbon = 550", "carbon = 1e308", "carbon")
case("carbon-negative", "carbon = 550", "carbon = -5", "carbon")
case("price-huge", "price = 45", "price = 1e308", "price")
case("feed-in-huge", "feed_in_price_per_mwh = 15", "feed_in_price_per_mwh = 1e308", "feed_in_price_per_mwh")
case("carbon-price-huge", "carbon_price_per_t = 50", "carbon_price_per_t = 1e308", "carbon_price_per_t")
case("carbon-price-negative", "carbon_price_per_t = 50", "carbon_price_per_t = -1", "carbon_price_per_t")
case("green-huge", "capacity_kw = 20", "capacity_kw = 1e308", "capacity_kw")
case("tokens-huge", "tokens_per_s = 2000", "tokens_per_s = 1e308", "tokens_per_s")
case("joules-negative", "joules_per_token = [0.4, 0.45]", "joules_per_token = [-0.4, 0.45]", "joules_per_token")
case("battery-power-nan", "power_kw = 10", "power_kw = nan", "power_kw")
case("battery-soc-above-one", "soc_max = 0.95", "soc_max = 1.5", "soc")
case("thermal-carbon-huge", "g_co2_per_kwh = 700", "g_co2_per_kwh = 1e9", "g_co2_per_kwh")
case("import-limit-negative", "import_limit_kw = 100", "import_limit_kw = -1", "import_limit_kw")
case("pue-below-one", "pue = 1.3", "pue = 0.5", "pue")
case("pue-huge", "pue = 1.3", "pue = 1e300", "pue")
case("idle-above-peak", "idle_w = 100, peak_w = 700, per_server = 8, other_it_w_per_server = 1500 }\npue = 1.3",
     "idle_w = 800, peak_w = 700, per_server = 8, other_it_w_per_server = 1500 }\npue = 1.3", "peak_w")
case("count-zero", "count = 16, model = \"H100\", idle_w = 100, peak_w = 700, per_server = 8, other_it_w_per_server = 1500 }\npue = 1.3",
     "count = 0, model = \"H100\", idle_w = 100, peak_w = 700, per_server = 8, other_it_w_per_server = 1500 }\npue = 1.3", "count")
case("count-huge", "count = 16, model = \"H100\", idle_w = 100, peak_w = 700, per_server = 8, other_it_w_per_server = 1500 }\npue = 1.3",
     "count = 1e20, model = \"H100\", idle_w = 100, peak_w = 700, per_server = 8, other_it_w_per_server = 1500 }\npue = 1.3", "count")
case("exponent-zero", "throughput_exponent = 0.8", "throughput_exponent = 0", "throughput_exponent")
case("restart-negative", "restart_hours = 0.1", "restart_hours = -1", "restart_hours")
case("wear-negative", "soc_initial = 0.5", "soc_initial = 0.5\nwear_cost_per_kwh = -1", "wear_cost_per_kwh")
case("currency-without-wear-default", "currency = \"USD\"", "currency = \"XYZ\"", "wear_cost_per_kwh")
# Structure.
case("version-two", "version = 1", "version = 2", "version")
case("version-missing", "version = 1\n", "", "version")
case("time-missing", "[time]\nstart = \"2024-06-01T00:00:00Z\"\nslot_minutes = 60\nhorizon_hours = 24\n", "", "time")
case("slot-minutes-odd", "slot_minutes = 60", "slot_minutes = 7", "slot_minutes")
case("unknown-key", "pue = 1.15", "pue = 1.15\ncolour = \"blue\"", "colour")
case("duplicate-site", "name = \"b\"\nregion", "name = \"a\"\nregion", "name")
case("unknown-allowed-site", "allowed_sites = [\"a\"]", "allowed_sites = [\"nowhere\"]", "allowed_sites")
case("deadline-before-arrival", "max_delay_h = 4", "deadline_h = 1", "deadline")
case("job-bigger-than-any-site", "accelerators = 8\nruntime_h = 6", "accelerators = 64\nruntime_h = 6", "accelerators")
case("dr-ends-before-start", "end = \"2024-06-01T19:00:00Z\"", "end = \"2024-06-01T16:00:00Z\"", "end")
case("dr-negative-cap", "import_cap_kw = 20", "import_cap_kw = -20", "import_cap_kw")
case("series-wrong-length", "price = { daily = [40, 40, 40,", "price = { daily = [40, 40,", "price")
case("series-file-missing", "carbon = 450", "carbon = { file = \"no-such-file.csv\" }", "no-such-file.csv")
case("series-file-device", "carbon = 450", "carbon = { file = \"/dev/zero\" }", "not a regular file")
case("series-file-folder", "carbon = 450", "carbon = { file = \".\" }", "not a regular file")
case("series-nan-cell", "carbon = 450", "carbon = { file = \"../series/nan-cell.csv\" }", "nan-cell.csv")
case("series-duplicate-timestamp", "carbon = 450", "carbon = { file = \"../series/duplicate.csv\" }", "duplicate.csv")
case("series-not-a-number", "carbon = 450", "carbon = { file = \"../series/text-cell.csv\" }", "text-cell.csv")
case("allowed-sites-twice", "allowed_sites = [\"a\"]", "allowed_sites = [\"a\", \"a\"]", "allowed_sites")
case("count-too-many", "count = 16, model = \"H100\", idle_w = 100, peak_w = 700, per_server = 8, other_it_w_per_server = 1500 }\npue = 1.3",
     "count = 4000000000, model = \"H100\", idle_w = 100, peak_w = 700, per_server = 8, other_it_w_per_server = 1500 }\npue = 1.3", "from 1 to 100000000")
case("series-fractional-seconds", "carbon = 450", "carbon = { file = \"../series/fractional.csv\" }", "fractional.csv")
case("series-open-meteo-no-offset", "carbon = 450", "carbon = { file = \"../series/no-offset.json\", format = \"open-meteo\", column = \"temperature_2m\" }", "utc_offset_seconds")
raw("not-toml", "this is not [ toml\n", "line")
raw("empty", "", "version")
raw("binary", "\x00\x01\x02\x03version = 1\n", "")

# Valid extremes: each must run every policy to the end, quickly, with finite results.
case("long-job", "runtime_h = 30", "runtime_h = 80000", "ok", "good")
case("dirty-grid", "carbon = 550", "carbon = 1999", "ok", "good")
case("negative-prices", "price = 45", "price = -500", "ok", "good")
case("feed-in-above-import", "feed_in_price_per_mwh = 15", "feed_in_price_per_mwh = 900", "ok", "good")
case("dear-carbon", "carbon_price_per_t = 50", "carbon_price_per_t = 99999", "ok", "good")
case("heavy-inference", "tokens_per_s = 2000", "tokens_per_s = 1e9", "ok", "good")
case("zero-cap", "import_cap_kw = 20", "import_cap_kw = 0", "ok", "good")
case("base", "version = 1", "version = 1", "ok", "good")
