//! The demo's view of the streams: a table redrawn in place on a terminal;
//! elsewhere (a log, a pipe) printed again when an epoch moves, and otherwise a
//! line every few seconds naming what each unfinished stream waits for, so a
//! stalled run says why.

use std::io::Write;
use std::time::{Duration, Instant};
use zkmeter_contracts::U256;
use zkmeter_prover::daemon::StreamStatus;

use crate::units::show_tokens;

/// How often a run that is not on a terminal says what it waits for when
/// nothing moved.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The live table of the streams.
pub struct LiveTable {
    terminal: bool,
    drawn: usize,
    last: Vec<(u64, u64, u64)>,
    moved_at: Instant,
}

impl LiveTable {
    /// A table for a terminal (redrawn in place) or not (printed anew).
    pub fn new(terminal: bool) -> Self {
        LiveTable { terminal, drawn: 0, last: Vec::new(), moved_at: Instant::now() }
    }

    /// Shows `rows`: always on a terminal; elsewhere when an epoch moved, or what
    /// the streams wait for when nothing moved for a while.
    pub fn draw(&mut self, rows: &[StreamStatus]) {
        let epochs: Vec<_> = rows.iter().map(|r| r.epochs).collect();
        if !self.terminal && epochs == self.last {
            if self.moved_at.elapsed() >= PROGRESS_EVERY {
                self.moved_at = Instant::now();
                let mut out = std::io::stdout().lock();
                for r in rows.iter().filter(|r| !(r.metering_done && r.epochs.0 == r.epochs.2)) {
                    let what = if r.note.is_empty() { "metering" } else { r.note.as_str() };
                    let _ = writeln!(out, "waiting: job {}: {what} ({} records, epochs {}/{}/{})", r.job_id, r.records, r.epochs.0, r.epochs.1, r.epochs.2);
                }
                let _ = out.flush();
            }
            return;
        }
        self.moved_at = Instant::now();
        self.last = epochs;
        let mut out = std::io::stdout().lock();
        if self.terminal && self.drawn > 0 {
            let _ = write!(out, "\x1b[{}A", self.drawn);
        }
        let lines = table_lines(rows);
        for line in &lines {
            let _ = writeln!(out, "{}{line}", if self.terminal { "\x1b[2K" } else { "" });
        }
        if !self.terminal {
            let _ = writeln!(out);
        }
        let _ = out.flush();
        self.drawn = lines.len();
    }

    /// Shows the final rows.
    pub fn finish(&mut self, rows: &[StreamStatus]) {
        self.last.clear();
        self.draw(rows);
    }
}

fn table_lines(rows: &[StreamStatus]) -> Vec<String> {
    let mut lines = vec![format!(
        "{:<5} {:<12} {:>7} {:>20} {:>10}  {:<40} {}",
        "job", "meter", "records", "epochs cut/prv/set", "last prove", "billed (settled)", "status"
    )];
    for r in rows {
        let (cut, proved, settled) = r.epochs;
        let prove = r.last_prove.map_or_else(|| "-".to_owned(), |d| format!("{} ms", d.as_millis()));
        let billed = show_tokens(&r.settled_totals.0.map(U256::from), true);
        let meter = format!("{}", r.meter);
        lines.push(format!(
            "{:<5} {:<12} {:>7} {:>20} {:>10}  {:<40} {}",
            r.job_id,
            format!("{}…", &meter[..10]),
            r.records,
            format!("{cut}/{proved}/{settled}"),
            prove,
            billed,
            r.note
        ));
    }
    lines
}
