//! Amounts in the units people use, converted exactly to the contracts' base
//! units and back.
//!
//! A resource token's base unit pays for one base unit of its class's usage at
//! the default tariff (1 per 1), so a token amount is named after the usage it
//! buys: 1 GPU token is **1 GPU-hour** (3 600 000 base units, as many GPU-ms).
//! `zkmeter tariff show` gives the price when governance has changed it.
//!
//! | class | base unit | amounts (tokens, usage) | capacity (per ms of a job) |
//! |---|---|---|---|
//! | gpu | GPU-ms | GPU time: `2h`, `90m`, `1.5h`, `1.5 GPU-h`, `1h30m`, `45s`, `250ms` | GPUs: `8` |
//! | cpu | core-ms | CPU time: `2h`, `3 core-h`, `1h30m`, `500ms` | cores: `16` |
//! | storage | byte-s | data × time: `50GB-h`, `1TB-d`, `512MiB-s` | data held: `2TB`, `500GiB` |
//! | network | byte | data: `50GB`, `1.5TB`, `512MiB`, `1000B` | rate: `10Gbit/s`, `1.25GB/s` |
//! | energy | mJ | energy: `3kWh`, `2.5Wh`, `500J`, `700mJ` | power: `700W`, `1.5kW` |
//!
//! Sizes are decimal (kB, MB, GB, TB, PB = 10^3…10^15 B) or binary (KiB, MiB,
//! GiB, TiB); time units are ms, s, m (or min), h, d. Every conversion is exact:
//! an amount that is not a whole number of base units (`0.0001ms`, `1.5B`) is
//! refused, and so is a bare number where the unit is not obvious (is `5` GPU
//! time five hours or five milliseconds?). A capacity may be a bare number where
//! the human unit is the base unit per ms: GPUs, cores, watts (1 W = 1 mJ/ms).
//! `--raw` reads and prints plain base units instead.
//!
//! What is printed reads back: `1h30m0.001s`, `1.5GB`, `50GB-h`, `3.25kWh`.

use anyhow::Result;
use zkmeter_circuits::ResourceClass;

use crate::exit::invalid;

const MS_PER: [(&str, u128); 6] = [("ms", 1), ("s", 1_000), ("min", 60_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)];
const S_PER: [(&str, u128); 5] = [("s", 1), ("min", 60), ("m", 60), ("h", 3_600), ("d", 86_400)];
const BYTES_PER: [(&str, u128); 11] = [
    ("B", 1),
    ("kB", 1_000),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("PB", 1_000_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];
const MJ_PER: [(&str, u128); 7] = [
    ("mJ", 1),
    ("J", 1_000),
    ("kJ", 1_000_000),
    ("MJ", 1_000_000_000),
    ("Wh", 3_600_000),
    ("kWh", 3_600_000_000),
    ("MWh", 3_600_000_000_000),
];
const BITS_PER_S: [(&str, u128); 4] = [("bit/s", 1), ("kbit/s", 1_000), ("Mbit/s", 1_000_000), ("Gbit/s", 1_000_000_000)];
const WATTS_PER: [(&str, u128); 3] = [("W", 1), ("kW", 1_000), ("MW", 1_000_000)];

/// The forms an amount of `class` may take, for messages.
pub fn amount_forms(class: ResourceClass) -> &'static str {
    match class {
        ResourceClass::Gpu => "GPU time, e.g. 2h, 90m, 1.5h, 1.5 GPU-h, 1h30m, 45s, 250ms",
        ResourceClass::Cpu => "CPU time, e.g. 2h, 3 core-h, 1h30m, 500ms",
        ResourceClass::Storage => "data × time, e.g. 50GB-h, 1TB-d, 512MiB-s",
        ResourceClass::Network => "data, e.g. 50GB, 1.5TB, 512MiB, 1000B",
        ResourceClass::Energy => "energy, e.g. 3kWh, 2.5Wh, 500J, 700mJ",
    }
}

/// The forms a capacity of `class` may take, for messages.
pub fn capacity_forms(class: ResourceClass) -> &'static str {
    match class {
        ResourceClass::Gpu => "whole GPUs, e.g. 8",
        ResourceClass::Cpu => "whole cores, e.g. 16",
        ResourceClass::Storage => "data held, e.g. 2TB, 500GiB (a multiple of 1 kB)",
        ResourceClass::Network => "a rate, e.g. 10Gbit/s, 1.25GB/s (a multiple of 1 kB/s)",
        ResourceClass::Energy => "power, e.g. 700W, 1.5kW",
    }
}

/// A decimal number as `digits / 10^scale`, exactly.
fn decimal(text: &str) -> Option<(u128, u32)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() && frac.is_empty() || !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits: u128 = format!("{int}{frac}").trim_start_matches('0').parse().unwrap_or(0);
    (format!("{int}{frac}").trim_start_matches('0').len() <= 38).then_some((digits, frac.len() as u32))
}

/// `number × factor` if it is a whole number that fits; `Err(true)` if lossy,
/// `Err(false)` if too large.
fn scale(number: (u128, u32), factor: u128) -> Result<u128, bool> {
    let (digits, places) = number;
    let product = digits.checked_mul(factor).ok_or(false)?;
    let divisor = 10u128.checked_pow(places).ok_or(false)?;
    if product % divisor != 0 {
        return Err(true);
    }
    Ok(product / divisor)
}

/// Splits "1.5GB" into ("1.5", "GB"), spaces allowed between.
fn split_number(text: &str) -> (&str, &str) {
    let end = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    (&text[..end], text[end..].trim())
}

fn unit_factor(units: &[(&str, u128)], unit: &str) -> Option<u128> {
    units.iter().find(|(u, _)| *u == unit).map(|(_, f)| *f)
}

fn bytes_factor(unit: &str) -> Option<u128> {
    unit_factor(&BYTES_PER, unit)
}

/// Sums `number unit` parts ("1h30m", "2h", "1.5 GPU-h") in base units.
fn compound(text: &str, units: &[(&str, u128)]) -> Option<Result<u128, bool>> {
    let mut rest = text.trim();
    let mut total: u128 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let (number, after) = split_number(rest);
        let number = decimal(number)?;
        let unit_end = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let factor = unit_factor(units, after[..unit_end].trim())?;
        match scale(number, factor) {
            Ok(v) => total = total.checked_add(v)?,
            Err(lossy) => return Some(Err(lossy)),
        }
        rest = after[unit_end..].trim_start();
    }
    Some(Ok(total))
}

/// Reads an amount of `class` (tokens, usage) in base units; `raw`: a plain integer.
pub fn parse_amount(class: ResourceClass, text: &str, raw: bool) -> Result<u128> {
    let text = text.trim();
    let refuse = |why: &str| {
        invalid(format!("{class} amount {text:?} {why}: write {} (or base units, {}, with --raw)", amount_forms(class), class.unit()))
    };
    if raw {
        return text.parse().map_err(|_| {
            invalid(format!("{class} amount {text:?} is not a whole number of base units ({}) as --raw needs", class.unit()))
        });
    }
    if decimal(text).is_some() {
        return Err(refuse("has no unit"));
    }
    let parsed = match class {
        ResourceClass::Gpu | ResourceClass::Cpu => {
            let tag = if class == ResourceClass::Gpu { "GPU-" } else { "core-" };
            // "1.5 GPU-h" is 1.5h; "GPU-ms" the base unit.
            let plain = text.replace(tag, "");
            compound(&plain, &MS_PER)
        }
        ResourceClass::Storage => text.rsplit_once('-').and_then(|(size, time)| {
            let (number, unit) = split_number(size.trim());
            let bytes = scale(decimal(number)?, bytes_factor(unit)?);
            let seconds = unit_factor(&S_PER, time.trim())?;
            Some(bytes.and_then(|b| b.checked_mul(seconds).ok_or(false)))
        }),
        ResourceClass::Network => {
            let (number, unit) = split_number(text);
            bytes_factor(unit).and_then(|f| Some(scale(decimal(number)?, f)))
        }
        ResourceClass::Energy => compound(text, &MJ_PER),
    };
    match parsed {
        Some(Ok(v)) => Ok(v),
        Some(Err(true)) => Err(refuse(&format!("is not a whole number of {} (the base unit)", class.unit()))),
        Some(Err(false)) => Err(refuse("is too large")),
        None if class == ResourceClass::Network && text.ends_with('b') => {
            Err(refuse("is in bits: amounts of data are in bytes (B)"))
        }
        None => Err(refuse("is not in a unit of this class")),
    }
}

/// Reads a job's or meter's capacity of `class` in base units per ms; `raw`: a plain integer.
pub fn parse_capacity(class: ResourceClass, text: &str, raw: bool) -> Result<u64> {
    let text = text.trim();
    let refuse = |why: &str| {
        invalid(format!(
            "{class} capacity {text:?} {why}: write {} (or {} per ms with --raw)",
            capacity_forms(class),
            class.unit()
        ))
    };
    let per_ms: Option<Result<u128, bool>> = if raw {
        text.parse::<u128>().ok().map(Ok)
    } else {
        let (number, unit) = split_number(text);
        let number = decimal(number);
        match (class, unit) {
            (_, "") if !matches!(class, ResourceClass::Gpu | ResourceClass::Cpu | ResourceClass::Energy) => {
                return Err(refuse("has no unit"));
            }
            (ResourceClass::Gpu, "" | "GPU" | "GPUs") | (ResourceClass::Cpu, "" | "core" | "cores") => number.map(|n| scale(n, 1)),
            (ResourceClass::Energy, "") => number.map(|n| scale(n, 1)),
            (ResourceClass::Energy, u) => unit_factor(&WATTS_PER, u).and_then(|f| Some(scale(number?, f))),
            (ResourceClass::Storage, u) => bytes_factor(u).and_then(|f| Some(per_thousand(scale(number?, f)))),
            (ResourceClass::Network, u) => match u.strip_suffix("/s").and_then(bytes_factor) {
                Some(f) => number.map(|n| per_thousand(scale(n, f))),
                // 8 000 bits per second are one byte per ms.
                None => unit_factor(&BITS_PER_S, u).and_then(|f| {
                    number.map(|n| scale(n, f).and_then(|bits| if bits % 8_000 == 0 { Ok(bits / 8_000) } else { Err(true) }))
                }),
            },
            _ => None,
        }
    };
    match per_ms {
        Some(Ok(v)) if v < u128::from(zkmeter_circuits::record::CAPACITY_LIMIT) => Ok(v as u64),
        Some(Ok(_)) | Some(Err(false)) => Err(refuse("is above the contract's limit of 2^48 - 1 per ms")),
        Some(Err(true)) => Err(refuse(&format!("is not a whole number of {} per ms", class.unit()))),
        None if raw => Err(refuse("is not a whole number")),
        None => Err(refuse("is not in a unit of this class")),
    }
}

/// A per-second amount in base units per ms, exactly.
fn per_thousand(per_s: Result<u128, bool>) -> Result<u128, bool> {
    per_s.and_then(|v| if v % 1_000 == 0 { Ok(v / 1_000) } else { Err(true) })
}

/// Reads "gpu=2h,network=50GB" (classes not named are 0) with `parse`.
pub fn parse_per_class<T: Default + Copy>(
    spec: &[String],
    what: &str,
    mut parse: impl FnMut(ResourceClass, &str) -> Result<T>,
) -> Result<[T; ResourceClass::COUNT]> {
    let mut out = [T::default(); ResourceClass::COUNT];
    let mut seen = [false; ResourceClass::COUNT];
    for part in spec.iter().flat_map(|s| s.split(',')).map(str::trim).filter(|p| !p.is_empty()) {
        let Some((class, value)) = part.split_once('=') else {
            return Err(invalid(format!("{what} {part:?}: write CLASS=AMOUNT, e.g. gpu=2h,network=50GB")));
        };
        let class: ResourceClass = class.trim().parse().map_err(|_| {
            invalid(format!("{what} {part:?}: {:?} is not a class (gpu, cpu, storage, network, energy)", class.trim()))
        })?;
        if std::mem::replace(&mut seen[class.index()], true) {
            return Err(invalid(format!("{what}: {class} is given twice")));
        }
        out[class.index()] = parse(class, value)?;
    }
    Ok(out)
}

/// Digits of `value / 10^places` with trailing zeros dropped: "1.5", "2".
fn fixed(value: u128, places: u32) -> String {
    let divisor = 10u128.pow(places);
    let (int, frac) = (value / divisor, value % divisor);
    if frac == 0 {
        return int.to_string();
    }
    let frac = format!("{frac:0width$}", width = places as usize);
    format!("{int}.{}", frac.trim_end_matches('0'))
}

/// `value` of something counted in `units` (ascending factors, each a power of
/// ten of the one before), in the largest unit it reaches, exactly.
fn scaled(value: u128, units: &[(&str, u32)]) -> String {
    let (name, places) = units.iter().rev().find(|(_, p)| value >= 10u128.pow(*p)).unwrap_or(&units[0]);
    format!("{}{name}", fixed(value, *places))
}

/// A size in bytes: "1.5GB", "512B".
fn size(bytes: u128) -> String {
    scaled(bytes, &[("B", 0), ("kB", 3), ("MB", 6), ("GB", 9), ("TB", 12), ("PB", 15)])
}

/// A duration in ms: "1h30m", "1.5s", "0s".
fn duration_ms(ms: u128) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let (h, m, s) = (ms / 3_600_000, ms / 60_000 % 60, ms % 60_000);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 {
        out += &format!("{}s", fixed(s, 3));
    }
    out
}

/// An amount of `class` in base units, for people (`raw`: the integer and its unit).
pub fn show_amount(class: ResourceClass, value: u128, raw: bool) -> String {
    if raw {
        return format!("{value} {}", class.unit());
    }
    match class {
        ResourceClass::Gpu | ResourceClass::Cpu => duration_ms(value),
        ResourceClass::Storage if value.is_multiple_of(3_600) => format!("{}-h", size(value / 3_600)),
        ResourceClass::Storage => format!("{}-s", size(value)),
        ResourceClass::Network => size(value),
        ResourceClass::Energy if value.is_multiple_of(3_600_000) => scaled(value / 3_600_000, &[("Wh", 0), ("kWh", 3), ("MWh", 6)]),
        ResourceClass::Energy => scaled(value, &[("mJ", 0), ("J", 3), ("kJ", 6), ("MJ", 9)]),
    }
}

/// A capacity of `class` in base units per ms, for people.
pub fn show_capacity(class: ResourceClass, per_ms: u64, raw: bool) -> String {
    let v = u128::from(per_ms);
    if raw {
        return format!("{v} {}/ms", class.unit());
    }
    match class {
        ResourceClass::Gpu => format!("{v} GPU{}", if v == 1 { "" } else { "s" }),
        ResourceClass::Cpu => format!("{v} core{}", if v == 1 { "" } else { "s" }),
        ResourceClass::Storage => size(v * 1_000),
        ResourceClass::Network => format!("{}/s", size(v * 1_000)),
        ResourceClass::Energy => scaled(v, &[("W", 0), ("kW", 3), ("MW", 6)]),
    }
}

/// The non-zero amounts of `values`, "gpu 2h, network 50GB", or "none".
pub fn show_amounts(values: &[u128; ResourceClass::COUNT], raw: bool) -> String {
    let parts: Vec<String> = ResourceClass::ALL
        .iter()
        .zip(values)
        .filter(|(_, v)| **v != 0)
        .map(|(c, v)| format!("{c} {}", show_amount(*c, *v, raw)))
        .collect();
    if parts.is_empty() { "none".into() } else { parts.join(", ") }
}

/// Token amounts (balances, sums) like [`show_amounts`]; one too large for 128
/// bits (only minting can make one) is shown in base units.
pub fn show_tokens(values: &[zkmeter_contracts::U256; ResourceClass::COUNT], raw: bool) -> String {
    let parts: Vec<String> = ResourceClass::ALL
        .iter()
        .zip(values)
        .filter(|(_, v)| !v.is_zero())
        .map(|(c, v)| match u128::try_from(*v) {
            Ok(v) => format!("{c} {}", show_amount(*c, v, raw)),
            Err(_) => format!("{c} {v} {}", c.unit()),
        })
        .collect();
    if parts.is_empty() { "none".into() } else { parts.join(", ") }
}

/// The non-zero capacities of `values`, "gpu 8 GPUs, energy 700W", or "none".
pub fn show_capacities(values: &[u64; ResourceClass::COUNT], raw: bool) -> String {
    let parts: Vec<String> = ResourceClass::ALL
        .iter()
        .zip(values)
        .filter(|(_, v)| **v != 0)
        .map(|(c, v)| format!("{c} {}", show_capacity(*c, *v, raw)))
        .collect();
    if parts.is_empty() { "none".into() } else { parts.join(", ") }
}

/// Reads a span of time ("24h", "90m", "2d", "30s") in seconds.
pub fn parse_duration_s(text: &str) -> Result<u64> {
    match compound(text, &S_PER) {
        Some(Ok(s)) => u64::try_from(s).map_err(|_| invalid(format!("{text:?} is too long a time"))),
        _ => Err(invalid(format!("{text:?} is not a span of whole seconds: write e.g. 24h, 90m, 2d, 1h30m, 45s"))),
    }
}

/// Reads a span of time in milliseconds ("5m", "1.5s", "300ms").
pub fn parse_duration_ms(text: &str) -> Result<u64> {
    match compound(text, &MS_PER) {
        Some(Ok(ms)) => u64::try_from(ms).map_err(|_| invalid(format!("{text:?} is too long a time"))),
        _ => Err(invalid(format!("{text:?} is not a span of whole milliseconds: write e.g. 5m, 1.5s, 300ms"))),
    }
}

/// A span of milliseconds for people: "5m", "1.5s".
pub fn show_duration_ms(ms: u64) -> String {
    duration_ms(u128::from(ms))
}

/// A span of seconds for people: "1d2h", "90s" reads as "1m30s".
pub fn show_duration_s(seconds: u64) -> String {
    let (d, rest) = (seconds / 86_400, u128::from(seconds % 86_400) * 1_000);
    match (d, rest) {
        (0, _) => duration_ms(rest),
        (_, 0) => format!("{d}d"),
        _ => format!("{d}d{}", duration_ms(rest)),
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian), after Howard Hinnant.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Unix seconds as "2025-01-02 03:04:05Z" (UTC).
pub fn show_time(unix_s: u64) -> String {
    let (days, secs) = ((unix_s / 86_400) as i64, unix_s % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z", secs / 3_600, secs / 60 % 60, secs % 60)
}

/// Unix ms as "2025-01-02 03:04:05.678Z" (UTC).
pub fn show_time_ms(unix_ms: u64) -> String {
    let base = show_time(unix_ms / 1_000);
    format!("{}.{:03}Z", base.trim_end_matches('Z'), unix_ms % 1_000)
}

/// Reads a point in time as Unix seconds: "now", a span from now ("24h"), a
/// span ago ("2h ago", for `--since`), a date "2025-01-02", a UTC time
/// "2025-01-02T03:04:05Z" (or with a space), or "@1735787045" (Unix seconds).
pub fn parse_time(text: &str, now: u64) -> Result<u64> {
    let text = text.trim();
    let refuse = || {
        invalid(format!(
            "{text:?} is not a time: write now, a span from now (24h, 90m, 2d), a span ago (2h ago), \
             a UTC date or time (2025-01-02, 2025-01-02T03:04:05Z) or @UNIX_SECONDS"
        ))
    };
    if text == "now" {
        return Ok(now);
    }
    if let Some(unix) = text.strip_prefix('@') {
        return unix.parse().map_err(|_| refuse());
    }
    if let Some(span) = text.strip_suffix("ago") {
        return Ok(now.saturating_sub(parse_duration_s(span).map_err(|_| refuse())?));
    }
    if let Ok(span) = parse_duration_s(text) {
        return Ok(now.saturating_add(span));
    }
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, time.trim_end_matches('Z')),
        None => (text, "00:00:00"),
    };
    let numbers = |s: &str, sep: char, n: usize| -> Option<Vec<i64>> {
        let parts: Vec<i64> = s.split(sep).map(|p| p.parse().ok()).collect::<Option<_>>()?;
        (parts.len() == n).then_some(parts)
    };
    let (Some(ymd), Some(hms)) = (numbers(date, '-', 3), numbers(time, ':', 3)) else { return Err(refuse()) };
    let valid = (1..=12).contains(&ymd[1]) && (1..=31).contains(&ymd[2]) && hms[0] < 24 && hms[1] < 60 && hms[2] < 60;
    if !valid || ymd[0] < 1970 || hms.iter().any(|v| *v < 0) {
        return Err(refuse());
    }
    let days = days_from_civil(ymd[0], ymd[1], ymd[2]);
    Ok((days * 86_400 + hms[0] * 3_600 + hms[1] * 60 + hms[2]) as u64)
}

/// The wall clock, Unix seconds.
pub fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResourceClass::*;

    fn amount(class: ResourceClass, text: &str) -> u128 {
        parse_amount(class, text, false).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn refused(class: ResourceClass, text: &str) -> String {
        parse_amount(class, text, false).expect_err(text).to_string()
    }

    #[test]
    fn one_compute_token_is_one_gpu_hour() {
        assert_eq!(amount(Gpu, "1h"), 3_600_000);
        assert_eq!(amount(Gpu, "2h"), 7_200_000);
        assert_eq!(amount(Gpu, "90m"), 5_400_000);
        assert_eq!(amount(Gpu, "1.5 GPU-h"), 5_400_000);
        assert_eq!(amount(Gpu, "1.5GPU-h"), 5_400_000);
        assert_eq!(amount(Gpu, "1h30m"), 5_400_000);
        assert_eq!(amount(Gpu, "250ms"), 250);
        assert_eq!(amount(Gpu, "7 GPU-ms"), 7);
        assert_eq!(amount(Cpu, "3 core-h"), 10_800_000);
        assert_eq!(show_amount(Gpu, 5_400_000, false), "1h30m");
        assert_eq!(show_amount(Gpu, 3_600_001, false), "1h0.001s");
        assert_eq!(show_amount(Gpu, 5_400_000, true), "5400000 GPU-ms");
    }

    #[test]
    fn data_energy_and_storage_convert_exactly() {
        assert_eq!(amount(Network, "50GB"), 50_000_000_000);
        assert_eq!(amount(Network, "1.5TB"), 1_500_000_000_000);
        assert_eq!(amount(Network, "512MiB"), 512 << 20);
        assert_eq!(amount(Energy, "3 kWh"), 10_800_000_000);
        assert_eq!(amount(Energy, "500J"), 500_000);
        assert_eq!(amount(Energy, "2.5Wh"), 9_000_000);
        assert_eq!(amount(Storage, "50GB-h"), 50_000_000_000 * 3_600);
        assert_eq!(amount(Storage, "1TB-d"), 1_000_000_000_000 * 86_400);
        assert_eq!(show_amount(Network, 1_500_000_000, false), "1.5GB");
        assert_eq!(show_amount(Energy, 10_800_000_000, false), "3kWh");
        assert_eq!(show_amount(Energy, 1_234, false), "1.234J");
        assert_eq!(show_amount(Storage, 50_000_000_000 * 3_600, false), "50GB-h");
        assert_eq!(show_amount(Storage, 1_001, false), "1.001kB-s");
    }

    #[test]
    fn what_is_printed_reads_back() {
        for class in ResourceClass::ALL {
            for v in [0u128, 1, 999, 1_000, 3_599_999, 3_600_000, 5_400_001, 86_400_000_000, 123_456_789_012_345] {
                let shown = show_amount(class, v, false);
                assert_eq!(parse_amount(class, &shown, false).unwrap(), v, "{class} {v} shown as {shown}");
                assert_eq!(parse_amount(class, &v.to_string(), true).unwrap(), v);
            }
        }
    }

    #[test]
    fn lossy_ambiguous_and_foreign_amounts_are_refused_with_the_accepted_forms() {
        let e = refused(Gpu, "5");
        assert!(e.contains("has no unit") && e.contains("2h, 90m") && e.contains("--raw"), "{e}");
        let e = refused(Gpu, "0.0000001h");
        assert!(e.contains("not a whole number of GPU-ms"), "{e}");
        let e = refused(Network, "2h");
        assert!(e.contains("not in a unit of this class") && e.contains("50GB"), "{e}");
        let e = refused(Network, "10Gb");
        assert!(e.contains("bits"), "{e}");
        assert!(refused(Network, "1.5B").contains("not a whole number of bytes"));
        assert!(refused(Energy, "3 kW").contains("3kWh"));
        assert!(refused(Gpu, "").contains("no unit") || refused(Gpu, "").contains("not in a unit"));
        assert!(parse_amount(Gpu, "2h", true).unwrap_err().to_string().contains("--raw"));
        assert!(refused(Network, "99999999999999999999999999999999999999PB").contains("too large"));
    }

    #[test]
    fn capacities_are_per_millisecond() {
        let cap = |c, t| parse_capacity(c, t, false).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(cap(Gpu, "8"), 8);
        assert_eq!(cap(Cpu, "16 cores"), 16);
        assert_eq!(cap(Energy, "700000"), 700_000);
        assert_eq!(cap(Energy, "1.5kW"), 1_500);
        assert_eq!(cap(Network, "10Gbit/s"), 1_250_000);
        assert_eq!(cap(Network, "1.25GB/s"), 1_250_000);
        assert_eq!(cap(Storage, "2TB"), 2_000_000_000);
        assert_eq!(show_capacity(Network, 1_250_000, false), "1.25GB/s");
        assert_eq!(show_capacity(Energy, 1_500, false), "1.5kW");
        assert_eq!(show_capacity(Storage, 2_000_000_000, false), "2TB");
        for (class, text) in [(Gpu, "0.5"), (Storage, "1500B"), (Network, "1kbit/s"), (Network, "100"), (Gpu, "2h")] {
            let e = parse_capacity(class, text, false).expect_err(text).to_string();
            assert!(e.contains(capacity_forms(class)), "{e}");
        }
        assert!(parse_capacity(Gpu, "281474976710656", true).is_err(), "2^48 does not fit");
    }

    #[test]
    fn per_class_lists_name_each_class_once() {
        let spec = vec!["gpu=2h,network=50GB".to_owned(), "energy=3kWh".to_owned()];
        let v = parse_per_class(&spec, "--escrow", |c, t| parse_amount(c, t, false)).unwrap();
        assert_eq!(v, [7_200_000, 0, 0, 50_000_000_000, 10_800_000_000]);
        let twice = vec!["gpu=1h,gpu=2h".to_owned()];
        assert!(parse_per_class(&twice, "--escrow", |c, t| parse_amount(c, t, false)).unwrap_err().to_string().contains("twice"));
        let unknown = vec!["disk=1GB".to_owned()];
        assert!(parse_per_class(&unknown, "--escrow", |c, t| parse_amount(c, t, false)).is_err());
        assert_eq!(show_amounts(&v, false), "gpu 2h, network 50GB, energy 3kWh");
    }

    #[test]
    fn times_read_and_print_in_utc() {
        let now = 1_735_787_045;
        assert_eq!(show_time(now), "2025-01-02 03:04:05Z");
        assert_eq!(parse_time("2025-01-02T03:04:05Z", 0).unwrap(), now);
        assert_eq!(parse_time("2025-01-02 03:04:05", 0).unwrap(), now);
        assert_eq!(parse_time("2025-01-02", 0).unwrap(), now - 3 * 3_600 - 4 * 60 - 5);
        assert_eq!(parse_time("24h", now).unwrap(), now + 86_400);
        assert_eq!(parse_time("2h ago", now).unwrap(), now - 7_200);
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(parse_time("@5", now).unwrap(), 5);
        assert!(parse_time("tomorrow", now).unwrap_err().to_string().contains("24h"));
        assert_eq!(show_time_ms(now * 1_000 + 7), "2025-01-02 03:04:05.007Z");
        assert_eq!(show_duration_s(90_061), "1d1h1m1s");
        assert_eq!(parse_duration_ms("1.5s").unwrap(), 1_500);
    }
}
