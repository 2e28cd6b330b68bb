//! Output for people and for scripts: aligned tables and `key  value` lines by
//! default, one JSON document with `--json`. JSON carries amounts in base units
//! as decimal strings (exact whatever their size), addresses checksummed, times
//! as Unix seconds or ms; tables show human units (see [`crate::units`]) unless
//! `--raw`.

use serde_json::Value;
use zkmeter_circuits::ResourceClass;

/// `--json` and `--raw`, shared by every command that prints chain state.
#[derive(clap::Args, Clone, Copy, Debug, Default)]
pub struct OutputArgs {
    /// Print one JSON document instead of text (errors too, on stderr).
    #[arg(long)]
    pub json: bool,
    /// Read and print amounts in base units (GPU-ms, core-ms, byte-s, bytes, mJ)
    /// instead of human units.
    #[arg(long)]
    pub raw: bool,
}

impl OutputArgs {
    /// Prints `json` with `--json`, else runs `text`.
    pub fn emit(&self, json: Value, text: impl FnOnce()) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(&json).expect("JSON values serialize"));
        } else {
            text();
        }
    }
}

/// Columns of text, each as wide as its widest cell.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    right: Vec<bool>,
}

impl Table {
    /// A table with these column headings; a heading starting with `>` is
    /// right-aligned (numbers), the `>` not shown.
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| h.trim_start_matches('>').to_owned()).collect(),
            right: headers.iter().map(|h| h.starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as headings).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.headers.len());
        self.rows.push(cells);
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as lines, trailing spaces trimmed.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|c| self.rows.iter().map(|r| r[c].chars().count()).chain([self.headers[c].chars().count()]).max().unwrap_or(0))
            .collect();
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .zip(&self.right)
                .map(|((cell, w), right)| if *right { format!("{cell:>w$}") } else { format!("{cell:<w$}") })
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        std::iter::once(line(&self.headers)).chain(self.rows.iter().map(|r| line(r))).collect::<Vec<_>>().join("\n")
    }

    /// Prints it.
    pub fn print(&self) {
        println!("{}", self.render());
    }
}

/// Per-class amounts as a JSON object of decimal strings, keyed by class name.
pub fn json_amounts<T: ToString>(values: &[T; ResourceClass::COUNT]) -> Value {
    ResourceClass::ALL.iter().zip(values).map(|(c, v)| (c.name().to_owned(), Value::String(v.to_string()))).collect()
}

/// `key  value` lines, keys padded to one width.
pub fn fields(rows: &[(&str, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut t = Table::new(&["job", ">seq", "state"]);
        t.row(vec!["1".into(), "5".into(), "open".into()]);
        t.row(vec!["12".into(), "1024".into(), "closed".into()]);
        assert_eq!(t.render(), "job   seq  state\n1       5  open\n12   1024  closed");
    }
}
