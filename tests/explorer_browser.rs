//! The explorer in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over WebDriver, looks at a demo that settled its
//! jobs and stays up (`zkmeter demo --stay`). The demo's jobs show up, a job's
//! chart draws non-empty paths, and the in-browser Groth16 check says valid for
//! a real epoch and invalid once a field of its statement is changed. The main
//! pages are saved as screenshots under `target/tmp/explorer-screenshots/`.
//!
//! Without Chromium the test says so and passes, except under CI (`CI=true`),
//! where its absence is a failure: CI installs it with apt.

use base64::Engine;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Kills a child process when dropped, whatever the test did.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A WebDriver session.
struct Browser {
    http: reqwest::blocking::Client,
    session: String,
    _driver: Killed,
}

impl Browser {
    fn start() -> Browser {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Killed(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1024"],
            },
        }}});
        let deadline = Instant::now() + Duration::from_secs(30);
        let session = loop {
            match http.post(format!("{base}/session")).json(&capabilities).send() {
                Ok(r) => {
                    let body: Value = r.json().expect("chromedriver answers JSON");
                    let id = body["value"]["sessionId"].as_str();
                    break id.unwrap_or_else(|| panic!("chromedriver did not start Chromium: {body}")).to_owned();
                }
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => panic!("chromedriver did not answer on port {port}: {e}"),
            }
        };
        Browser { http, session: format!("{base}/session/{session}"), _driver: driver }
    }

    fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().expect("chromedriver answers").json().expect("chromedriver answers JSON");
        if answer["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    fn run(&self, script: &str, args: Value) -> Value {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// Waits until `script` returns something other than null or false.
    fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let value = self.run(script, json!([]));
            if !(value.is_null() || value == Value::Bool(false)) {
                return value;
            }
            assert!(Instant::now() < deadline, "gave up waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn screenshot(&self, dir: &Path, name: &str) {
        let png = self.command(reqwest::Method::GET, "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().expect("a base64 PNG")).expect("base64");
        std::fs::write(dir.join(format!("{name}.png")), bytes).expect("the screenshot is written");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.session).send();
    }
}

/// Runs a short demo that stays up; returns it and its explorer's URL once every
/// job is settled and closed.
fn demo(data_dir: &Path) -> (Killed, String) {
    let args = ["demo", "--records", "2", "--streams", "2", "--epochs", "2", "--sample-interval-ms", "20", "--stay"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_zkmeter"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("zkmeter runs");
    let (send, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let child = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(line) = lines.recv_timeout(left) else { break };
        if let Some(rest) = line.strip_prefix("explorer stays on ") {
            let url = rest.split_whitespace().next().expect("a URL").trim_end_matches('/').to_owned();
            return (child, url);
        }
        seen.push(line);
    }
    panic!("the demo never said its explorer stays up; it printed:\n{}", seen.join("\n"));
}

fn screenshots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("explorer-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_explorer_shows_the_demo_and_checks_its_proofs_in_chromium() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the browser test: install Chromium with `apt-get install chromium chromium-driver`"
        );
        eprintln!("skipping: {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let (_demo, url) = demo(data.path());
    let shots = screenshots_dir();
    let browser = Browser::start();

    // The jobs list: the demo's two jobs, closed (the demo closed them).
    browser.open(&format!("{url}/"));
    let jobs = browser.run("return Array.from(document.querySelectorAll('main table tbody tr')).map(r => r.innerText)", json!([]));
    assert_eq!(jobs.as_array().map(Vec::len), Some(2), "two jobs listed: {jobs}");
    browser.screenshot(&shots, "jobs");

    // A job's page: its chart draws non-empty paths, its epochs are listed settled.
    browser.open(&format!("{url}/jobs/1"));
    let drawn = browser.wait_for(
        "the job's chart",
        "const d = Array.from(document.querySelectorAll('#chart svg path')).map(p => p.getAttribute('d') || '');\
         return d.length > 0 && d.every(x => x.length > 10) ? d.length : null;",
    );
    assert!(drawn.as_u64().unwrap() >= 1, "paths drawn: {drawn}");
    let epochs = browser.run("return Array.from(document.querySelectorAll('#epochs tbody tr')).map(r => r.innerText)", json!([]));
    let epochs = epochs.as_array().expect("epoch rows");
    assert_eq!(epochs.len(), 2, "two epochs: {epochs:?}");
    assert!(epochs.iter().all(|e| e.as_str().unwrap().contains("settled")), "every epoch settled: {epochs:?}");
    browser.screenshot(&shots, "job");
    // What each epoch billed, from the chain's Settled events, in the JSON twin.
    let job: Value = browser.http.get(format!("{url}/api/jobs/1")).send().unwrap().json().unwrap();
    for e in job["epochs"].as_array().expect("epochs") {
        let burned = e["burned"].as_array().unwrap_or_else(|| panic!("a settled epoch says what it billed: {e}"));
        assert!(burned.iter().any(|x| x.as_str() != Some("0")), "something was billed: {e}");
    }

    // An epoch's page: its own proof is valid in this browser…
    let epoch_link = browser.run("return document.querySelector('#epochs tbody a').getAttribute('href')", json!([]));
    browser.open(&format!("{url}{}", epoch_link.as_str().unwrap()));
    let verdict = "const v = document.getElementById('verdict').textContent;\
                   return v.startsWith('valid') || v.startsWith('invalid') ? v : null;";
    browser.run("document.getElementById('verify').click()", json!([]));
    let valid = browser.wait_for("the verdict on the real epoch", verdict);
    assert!(valid.as_str().unwrap().starts_with("valid"), "a real epoch verifies: {valid}");
    browser.screenshot(&shots, "epoch-valid");

    // …and invalid once the statement says one unit more of GPU time.
    browser.run(
        "const f = document.getElementById('total_gpu'); f.value = (BigInt(f.value) + 1n).toString();\
         document.getElementById('verdict').textContent = ''; document.getElementById('verify').click();",
        json!([]),
    );
    let invalid = browser.wait_for("the verdict on the tampered epoch", verdict);
    assert!(invalid.as_str().unwrap().starts_with("invalid"), "a tampered epoch fails: {invalid}");
    browser.screenshot(&shots, "epoch-tampered");

    // An account linked from the job (its consumer or provider), and the service.
    browser.open(&format!("{url}/jobs/1"));
    let account = browser.run("return document.querySelector('main a[href^=\"/accounts/\"]').getAttribute('href')", json!([]));
    browser.open(&format!("{url}{}", account.as_str().unwrap()));
    let jobs_of_account = browser.run("return document.querySelectorAll('#account-jobs li').length", json!([]));
    assert_eq!(jobs_of_account.as_u64(), Some(2), "the account's two jobs are listed");
    browser.wait_for(
        "the account's earned or spent chart",
        "const d = Array.from(document.querySelectorAll('#chart svg path')).map(p => p.getAttribute('d') || '');         return d.length > 0 && d.every(x => x.length > 10) ? d.length : null;",
    );
    browser.screenshot(&shots, "account");
    browser.open(&format!("{url}/service"));
    browser.screenshot(&shots, "service");
    for name in ["jobs", "job", "epoch-valid", "epoch-tampered", "account", "service"] {
        let size = std::fs::metadata(shots.join(format!("{name}.png"))).unwrap().len();
        assert!(size > 1_000, "screenshot {name} has {size} bytes");
    }
}
