//! The explorer's pages, rendered on the server so that their tables work without
//! JavaScript. Every value from the chain or the store goes through [`esc`]. The
//! script (`/static/app.js`) adds the charts, the live updates and the in-browser
//! proof check; it finds what to load in the `data-*` attributes of `<main>`.

use std::fmt::Write;

use crate::model::{Account, CLASSES, Epoch, EpochProof, JobPage, JobSummary, ServiceStats, UNITS};

/// HTML-escapes `s` for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `main_attrs` are the `data-*` attributes the script reads.
pub fn document(title: &str, main_attrs: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · zkmeter explorer</title><link rel=\"stylesheet\" href=\"/static/style.css\">\
         <script src=\"/static/app.js\" defer></script></head><body>\
         <header><a href=\"/\">zkmeter explorer</a> <nav><a href=\"/\">jobs</a> <a href=\"/service\">service</a></nav></header>\
         <main {main_attrs}>{body}</main>\
         <footer>read-only; every figure from the settlement chain and this verifier's receipts. \
         <span id=\"live\"></span></footer></body></html>\n",
        esc(title)
    )
}

/// An error page (the message is escaped).
pub fn error(status: u16, message: &str) -> String {
    document("error", "", &format!("<h1>{status}</h1><p class=\"error\">{}</p>", esc(message)))
}

/// Unix ms as `YYYY-MM-DD HH:MM:SS.mmm` UTC.
pub fn time(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:03}", rem / 3600, rem % 3600 / 60, rem % 60, ms % 1000)
}

fn per_class(values: &[String; 5]) -> String {
    let parts: Vec<String> = values
        .iter()
        .zip(CLASSES.iter().zip(UNITS))
        .filter(|(v, _)| v.as_str() != "0")
        .map(|(v, (c, u))| format!("{c} {} {u}", esc(v)))
        .collect();
    if parts.is_empty() { "none".to_owned() } else { parts.join(", ") }
}

fn strings(values: &[u64; 5]) -> [String; 5] {
    values.map(|v| v.to_string())
}

fn account_link(address: &str) -> String {
    format!("<a href=\"/accounts/{0}\" class=\"mono\">{0}</a>", esc(address))
}

/// The jobs list.
pub fn jobs(jobs: &[JobSummary], total: u64, page: u64, size: u64) -> String {
    let mut body = format!("<h1>Jobs</h1><p>{total} jobs on this chain, newest first.</p>");
    body.push_str(
        "<table id=\"jobs\"><thead><tr><th>job</th><th>status</th><th>meter</th><th>consumer</th><th>provider</th>\
         <th>capacity per ms</th><th>escrow left</th><th>records settled</th></tr></thead><tbody>",
    );
    for j in jobs {
        let c = JobCells::of(j);
        let _ = write!(
            body,
            "<tr><td><a href=\"/jobs/{id}\">{id}</a></td><td>{status}</td><td class=\"mono\">{meter}</td><td>{consumer}</td>\
             <td>{provider}</td><td>{capacity}</td><td>{escrow}</td><td>{seq}</td></tr>",
            id = j.id,
            status = c.status,
            meter = c.meter,
            consumer = c.consumer,
            provider = c.provider,
            capacity = c.capacity,
            escrow = c.escrow,
            seq = j.settled_seq,
        );
    }
    body.push_str("</tbody></table><p class=\"pages\">");
    if page > 0 {
        let _ = write!(body, "<a href=\"/?page={}&amp;size={size}\">newer</a> ", page - 1);
    }
    if (page + 1) * size < total {
        let _ = write!(body, "<a href=\"/?page={}&amp;size={size}\">older</a>", page + 1);
    }
    body.push_str("</p>");
    document("Jobs", "data-view=\"jobs\"", &body)
}

/// What the jobs list and a job's page both show of a job, rendered and escaped.
struct JobCells {
    status: &'static str,
    meter: String,
    consumer: String,
    provider: String,
    capacity: String,
    escrow: String,
}

impl JobCells {
    fn of(j: &JobSummary) -> JobCells {
        JobCells {
            status: if j.open { "open" } else { "closed" },
            meter: esc(&j.meter),
            consumer: account_link(&j.consumer),
            provider: account_link(&j.provider),
            capacity: per_class(&strings(&j.capacity)),
            escrow: per_class(&j.escrow),
        }
    }
}

fn epoch_row(e: &Epoch) -> String {
    format!(
        "<tr><td><a href=\"/jobs/{job}/epochs/{seq}\">{from}–{seq}</a></td><td>{start}</td><td>{end}</td><td>{usage}</td>\
         <td>{billed}</td><td class=\"status-{status}\">{status}{reason}</td><td class=\"mono\">{tx}</td><td>{gas}</td></tr>",
        job = e.job_id,
        seq = e.seq,
        from = e.prev_seq + 1,
        start = time(e.start_ms),
        end = time(e.end_ms),
        usage = per_class(&strings(&e.totals)),
        billed = e.burned.as_ref().map_or_else(|| "-".to_owned(), per_class),
        status = esc(&e.status),
        reason = e.reason.as_deref().map_or_else(String::new, |r| format!(": {}", esc(r))),
        tx = e.tx_hash.as_deref().map_or_else(|| "-".to_owned(), esc),
        gas = e.gas.map_or_else(|| "-".to_owned(), |g| g.to_string()),
    )
}

/// A job's page: its usage over time (drawn by the script) and its epochs.
pub fn job(p: &JobPage) -> String {
    let j = &p.job;
    let c = JobCells::of(j);
    let mut body = format!(
        "<h1>Job {id}</h1><dl><dt>status</dt><dd>{status}</dd><dt>meter</dt><dd class=\"mono\">{meter}</dd>\
         <dt>consumer</dt><dd>{consumer}</dd><dt>provider</dt><dd>{provider}</dd><dt>capacity per ms</dt><dd>{capacity}</dd>\
         <dt>escrow left</dt><dd>{escrow}</dd><dt>expires</dt><dd>{expires}</dd></dl>\
         <h2>Usage over time</h2><div class=\"chart\" id=\"chart\" aria-label=\"usage per class over time\"></div>\
         <h2>Epochs</h2><table id=\"epochs\"><thead><tr><th>records</th><th>from</th><th>to</th><th>usage</th>\
         <th>billed</th><th>receipt</th><th>settlement tx</th><th>gas</th></tr></thead><tbody>",
        id = j.id,
        status = c.status,
        meter = c.meter,
        consumer = c.consumer,
        provider = c.provider,
        capacity = c.capacity,
        escrow = c.escrow,
        expires = time(j.expires_at.saturating_mul(1000)),
    );
    for e in &p.epochs {
        body.push_str(&epoch_row(e));
    }
    body.push_str("</tbody></table>");
    document(&format!("Job {}", j.id), &format!("data-view=\"job\" data-job=\"{}\"", j.id), &body)
}

/// An epoch's page: its statement, editable, and the in-browser proof check.
pub fn epoch(p: &EpochProof) -> String {
    let e = &p.epoch;
    let field = |name: &str, value: &str| {
        format!("<tr><th><label for=\"{name}\">{name}</label></th><td><input id=\"{name}\" name=\"{name}\" value=\"{}\" size=\"80\"></td></tr>", esc(value))
    };
    let mut rows = String::new();
    for (name, value) in [
        ("prev_head", p.prev_head.clone()),
        ("new_head", p.new_head.clone()),
        ("prev_seq", e.prev_seq.to_string()),
        ("record_count", p.record_count.to_string()),
        ("prev_end_ms", e.start_ms.to_string()),
        ("new_end_ms", e.end_ms.to_string()),
    ] {
        rows.push_str(&field(name, &value));
    }
    for (k, class) in CLASSES.iter().enumerate() {
        rows.push_str(&field(&format!("total_{class}"), &e.totals[k].to_string()));
    }
    for (k, class) in CLASSES.iter().enumerate() {
        rows.push_str(&field(&format!("capacity_{class}"), &p.capacity[k].to_string()));
    }
    let body = format!(
        "<h1>Job {job}, records {from}–{seq}</h1><p>Circuit <span class=\"mono\">{circuit}</span>; receipt {status}; \
         settlement <span class=\"mono\">{tx}</span>.</p>\
         <h2>The statement</h2><p>What the proof says, as this page shows it. The check below computes the five public \
         inputs from these fields, in this browser, and verifies the Groth16 proof against the circuit's verifying key \
         with snarkjs: change a field and the proof no longer holds.</p><table id=\"statement\">{rows}</table>\
         <p><button id=\"verify\" type=\"button\">verify in this browser</button> <output id=\"verdict\"></output></p>\
         <p><a href=\"/api/jobs/{job}/epochs/{seq}\">the proof and the verifying key as JSON</a></p>",
        job = e.job_id,
        from = e.prev_seq + 1,
        seq = e.seq,
        circuit = esc(&p.circuit),
        status = esc(&e.status),
        tx = e.tx_hash.as_deref().map_or_else(|| "none yet".to_owned(), esc),
    );
    document(
        &format!("Job {} records {}–{}", e.job_id, e.prev_seq + 1, e.seq),
        &format!("data-view=\"epoch\" data-job=\"{}\" data-seq=\"{}\"", e.job_id, e.seq),
        &body,
    )
}

/// An account's page.
pub fn account(a: &Account) -> String {
    let mut body = format!(
        "<h1>Account <span class=\"mono\">{addr}</span></h1><dl><dt>tokens held</dt><dd>{balances}</dd></dl>\
         <h2>Tokens earned (provider) and spent (consumer) over time</h2><div class=\"chart\" id=\"chart\"></div>\
         <h2>Jobs</h2><ul id=\"account-jobs\">",
        addr = esc(&a.address),
        balances = per_class(&a.balances),
    );
    for id in &a.jobs {
        let _ = write!(body, "<li><a href=\"/jobs/{id}\">job {id}</a></li>");
    }
    body.push_str("</ul>");
    document("Account", &format!("data-view=\"account\" data-address=\"{}\"", esc(&a.address)), &body)
}

/// The service's figures.
pub fn service(s: &ServiceStats) -> String {
    let mut body = String::from("<h1>The verifier service</h1><table id=\"service\"><tbody>");
    let _ = write!(
        body,
        "<tr><th>verified per second (last minute)</th><td>{:.1}</td></tr><tr><th>verification batches</th><td>{}</td></tr>\
         <tr><th>mean batch size</th><td>{:.1}</td></tr><tr><th>settlements pending</th><td>{}</td></tr>\
         <tr><th>receipts settled</th><td>{}</td></tr>",
        s.verified_per_second, s.batches, s.mean_batch, s.pending_settlements, s.settled
    );
    for (outcome, n) in &s.submissions {
        let _ = write!(body, "<tr><th>submissions {}</th><td>{n}</td></tr>", esc(outcome));
    }
    body.push_str("</tbody></table>");
    document("Service", "data-view=\"service\"", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_from_outside_is_escaped() {
        assert_eq!(esc("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
        let page = error(404, "no job <img src=x onerror=alert(1)>");
        assert!(!page.contains("<img"), "{page}");
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(time(0), "1970-01-01 00:00:00.000");
        assert_eq!(time(1_767_225_600_123), "2026-01-01 00:00:00.123");
        assert_eq!(time(951_782_400_000), "2000-02-29 00:00:00.000");
    }
}
