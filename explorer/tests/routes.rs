//! The explorer's routes over a fixed [`Source`]: what every view returns, and
//! what bad requests get (clear 400s and 404s, escaped, nothing written). The
//! same pages over a real demo, in a real browser: `tests/explorer_browser.rs`
//! at the workspace root.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;
use zkmeter_explorer::model::{Account, Epoch, EpochProof, JobPage, JobSummary, Point, ServiceStats};
use zkmeter_explorer::{Page, Source, SourceError, router};

/// Two jobs; job 1 has one settled epoch. `down` makes every read fail.
struct Fixture {
    down: bool,
}

fn job(id: u64) -> JobSummary {
    JobSummary {
        id,
        consumer: format!("0x{:040x}", 0xc0),
        provider: format!("0x{:040x}", 0x90),
        meter: "0x<b>meter</b>".into(),
        open: id == 2,
        expires_at: 1_800_000_000,
        capacity: [1, 16, 0, 0, 0],
        escrow: ["5".into(), "6".into(), "0".into(), "0".into(), "0".into()],
        settled_seq: 4,
        settled_end_ms: 1_700_000_004_000,
    }
}

fn epoch() -> Epoch {
    Epoch {
        job_id: 1,
        prev_seq: 0,
        seq: 4,
        start_ms: 1_700_000_000_000,
        end_ms: 1_700_000_004_000,
        totals: [4000, 64000, 0, 0, 0],
        status: "settled".into(),
        reason: None,
        tx_hash: Some(format!("0x{}", "ab".repeat(32))),
        gas: Some(292_704),
        burned: Some(["4000".into(), "64000".into(), "0".into(), "0".into(), "0".into()]),
        minted: Some(["3960".into(), "63360".into(), "0".into(), "0".into(), "0".into()]),
    }
}

impl Fixture {
    fn check(&self) -> Result<(), SourceError> {
        if self.down { Err(SourceError("the chain node at 127.0.0.1:1 refused the connection".into())) } else { Ok(()) }
    }
}

impl Source for Fixture {
    async fn jobs(&self, page: Page) -> Result<(Vec<JobSummary>, u64), SourceError> {
        self.check()?;
        let all = [job(2), job(1)];
        let skip = (page.page * page.size) as usize;
        Ok((all.into_iter().skip(skip).take(page.size as usize).collect(), 2))
    }

    async fn job(&self, id: u64) -> Result<Option<JobPage>, SourceError> {
        self.check()?;
        Ok((1..=2).contains(&id).then(|| JobPage { job: job(id), epochs: if id == 1 { vec![epoch()] } else { vec![] } }))
    }

    async fn epoch(&self, job: u64, seq: u64) -> Result<Option<EpochProof>, SourceError> {
        self.check()?;
        Ok((job == 1 && seq == 4).then(|| EpochProof {
            epoch: epoch(),
            circuit: "zkmeter.meter.v2".into(),
            prev_head: "1".into(),
            new_head: "2".into(),
            record_count: 4,
            capacity: [1, 16, 0, 0, 0],
            verification_key: serde_json::json!({ "protocol": "groth16" }),
            proof: serde_json::json!({ "protocol": "groth16" }),
            public_inputs: vec!["1".into(), "2".into()],
        }))
    }

    async fn account(&self, address: [u8; 20]) -> Result<Account, SourceError> {
        self.check()?;
        Ok(Account {
            address: format!("0x{}", address.iter().map(|b| format!("{b:02x}")).collect::<String>()),
            balances: ["1".into(), "2".into(), "0".into(), "0".into(), "0".into()],
            earned: vec![Point { time_ms: 1_700_000_004_000, amounts: ["3960".into(), "0".into(), "0".into(), "0".into(), "0".into()] }],
            spent: vec![],
            jobs: vec![1],
        })
    }

    async fn service(&self) -> Result<ServiceStats, SourceError> {
        self.check()?;
        Ok(ServiceStats { submissions: vec![("accepted".into(), 3)], batches: 2, mean_batch: 1.5, ..Default::default() })
    }
}

async fn get(path: &str) -> (StatusCode, String, axum::http::HeaderMap) {
    request(Method::GET, path, false).await
}

async fn request(method: Method, path: &str, down: bool) -> (StatusCode, String, axum::http::HeaderMap) {
    let app = router(Arc::new(Fixture { down }));
    let response = app.oneshot(Request::builder().method(method).uri(path).body(Body::empty()).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = to_bytes(response.into_body(), 4 << 20).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap(), headers)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn every_view_has_a_page_and_a_json_twin() {
    for (page, api, needle) in [
        ("/", "/api/jobs", "records settled"),
        ("/jobs/1", "/api/jobs/1", "settlement tx"),
        ("/jobs/1/epochs/4", "/api/jobs/1/epochs/4", "verify in this browser"),
        (
            "/accounts/0x00000000000000000000000000000000000000c0",
            "/api/accounts/0x00000000000000000000000000000000000000c0",
            "Tokens earned",
        ),
        ("/service", "/api/service", "mean batch size"),
    ] {
        let (status, body, headers) = get(page).await;
        assert_eq!(status, StatusCode::OK, "{page}: {body}");
        assert!(body.contains(needle), "{page} lacks {needle:?}: {body}");
        assert!(headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("default-src 'self'"));
        let (status, body, _) = get(api).await;
        assert_eq!(status, StatusCode::OK, "{api}: {body}");
        json(&body);
    }
    let jobs = json(&get("/api/jobs?size=1&page=1").await.1);
    assert_eq!((jobs["total"].as_u64(), jobs["jobs"][0]["id"].as_u64()), (Some(2), Some(1)));
    let epoch = json(&get("/api/jobs/1/epochs/4").await.1);
    assert_eq!(epoch["epoch"]["gas"], 292_704);
    assert_eq!(epoch["epoch"]["burned"][1], "64000", "amounts are decimal strings");
}

#[tokio::test]
async fn a_job_page_shows_each_epoch_with_its_receipt_and_settlement() {
    let body = get("/jobs/1").await.1;
    for needle in ["1–4", "2023-11-14 22:13:20.000", "gpu 4000 GPU-ms, cpu 64000 core-ms", "settled", "292704", &"ab".repeat(32)] {
        assert!(body.contains(needle), "the job page lacks {needle:?}: {body}");
    }
    assert!(body.contains("href=\"/jobs/1/epochs/4\""));
}

#[tokio::test]
async fn bad_parameters_get_a_clear_400() {
    for (path, says) in [
        ("/api/jobs?size=0", "size must be between 1 and 100, not 0"),
        ("/api/jobs?size=1000000", "size must be between 1 and 100"),
        ("/api/jobs?size=-1", "size must be a whole number"),
        ("/api/jobs?page=18446744073709551615", "beyond any list"),
        ("/api/jobs?page=99999999999", "beyond any list"),
        ("/api/jobs/abc", "the job id must be a whole number, not \"abc\""),
        ("/api/jobs/99999999999999999999999", "the job id must be a whole number"),
        ("/api/jobs/1/epochs/-4", "the record seq must be a whole number"),
        ("/api/accounts/0x12", "is not an address"),
        ("/api/accounts/c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0", "give 0x and 40 hex digits"),
        ("/api/accounts/0xzz000000000000000000000000000000000000c0", "is not an address"),
    ] {
        let (status, body, _) = get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        let message = json(&body)["error"].as_str().unwrap().to_owned();
        assert!(message.contains(says), "{path}: {message}");
    }
}

#[tokio::test]
async fn unknown_things_get_a_404_that_says_what_was_missing() {
    for (path, says) in [
        ("/api/jobs/7", "there is no job 7 on this chain"),
        ("/api/jobs/1/epochs/5", "no epoch of job 1 ending at record 5"),
        ("/api/nothing", "no such page"),
    ] {
        let (status, body, _) = get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
        assert!(body.contains(says), "{path}: {body}");
    }
    let (status, body, _) = get("/jobs/7").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("<h1>404</h1>") && body.contains("there is no job 7"), "{body}");
}

#[tokio::test]
async fn script_in_a_request_comes_back_escaped() {
    for path in [
        "/jobs/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/accounts/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
        "/?size=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/jobs/1/epochs/%22%3E%3Cscript%3E",
    ] {
        let (status, body, _) = get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        for raw in ["<script>alert", "<img src", "\"><script>"] {
            assert!(!body.contains(raw), "{path} echoed {raw:?} unescaped: {body}");
        }
        assert!(body.contains("&lt;"), "{path}: {body}");
    }
    // Data from the chain is escaped too (the fixture's meter holds markup).
    let body = get("/").await.1;
    assert!(body.contains("0x&lt;b&gt;meter&lt;/b&gt;") && !body.contains("<b>meter"), "{body}");
}

#[tokio::test]
async fn it_is_read_only() {
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        for path in ["/", "/api/jobs", "/api/jobs/1"] {
            let (status, _, _) = request(method.clone(), path, false).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn a_source_that_cannot_answer_gives_503_with_its_cause() {
    let (status, body, _) = request(Method::GET, "/api/jobs", true).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let message = json(&body)["error"].as_str().unwrap().to_owned();
    assert!(message.starts_with("cannot read the chain or the receipts now (the chain node at 127.0.0.1:1 refused"), "{message}");
    let (status, body, _) = request(Method::GET, "/jobs/1", true).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("refused the connection"), "{body}");
}

#[tokio::test]
async fn its_files_come_from_the_binary() {
    let (status, body, headers) = get("/static/app.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("snarkjs.groth16.verify"));
    assert_eq!(headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(get("/static/style.css").await.0, StatusCode::OK);
    let (status, body, _) = get("/static/snarkjs.min.js").await;
    if zkmeter_explorer::assets::SNARKJS.is_some() {
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("groth16"), "the served snarkjs is its browser build");
    } else {
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("npm ci"), "{body}");
    }
}
