//! Meter records as JSON lines, one record per line:
//!
//! ```json
//! {"meter":"0x…","job_id":1,"seq":1,"start_ms":1700000000000,"end_ms":1700000004000,"usage":{"gpu":31000,"energy":52000}}
//! ```
//!
//! `usage` maps class names (gpu, cpu, storage, network, energy) to quantities in
//! each class's base unit; classes left out are 0. (Files of meter statement v1,
//! one `class` and `quantity` per line, are refused with this format in the message.)

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use zkmeter_circuits::{StreamId, UsageRecord};

/// One line of a records file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordLine {
    /// The stream the record belongs to.
    #[serde(flatten)]
    pub stream: StreamId,
    /// The record.
    #[serde(flatten)]
    pub record: UsageRecord,
}

/// Writes records as JSON lines.
pub fn write(path: &Path, lines: &[RecordLine]) -> Result<()> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    for line in lines {
        serde_json::to_writer(&mut out, line)?;
        out.write_all(b"\n")?;
    }
    out.flush().with_context(|| format!("cannot write {}", path.display()))
}

/// Reads a records file and groups the records by stream, each stream's in seq
/// order. A malformed line is reported with its line number.
pub fn read(path: &Path) -> Result<BTreeMap<StreamId, Vec<UsageRecord>>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open records file {}", path.display()))?;
    let mut streams: BTreeMap<StreamId, Vec<UsageRecord>> = BTreeMap::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: RecordLine = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}:{}: not a meter record (expected {{\"meter\",\"job_id\",\"seq\",\"start_ms\",\"end_ms\",\"usage\":{{\"gpu\":..,\"energy\":..}}}} with u64 numbers)",
                path.display(),
                n + 1
            )
        })?;
        streams.entry(parsed.stream).or_default().push(parsed.record);
    }
    if streams.is_empty() {
        bail!("{} holds no records", path.display());
    }
    for records in streams.values_mut() {
        records.sort_by_key(|r| r.seq);
    }
    Ok(streams)
}
