//! # zkmeter-explorer
//!
//! A usage explorer in the browser: every job with its escrow, each job's usage
//! over time and its epochs (records, interval, usage, what was billed, the
//! receipt, the settlement transaction and its gas), accounts (balances, tokens
//! earned and spent over time) and the verifier service's own figures. Every page
//! has a JSON twin under `/api/`, and an epoch's page checks its proof in the
//! visitor's own browser with snarkjs, from public inputs computed there from the
//! statement the page shows: an auditor trusts neither this server nor us.
//!
//! It is **read-only**: only GET, nothing written anywhere. It escapes everything
//! it renders, bounds page sizes, refuses malformed parameters with a clear 400,
//! and serves only files built into the binary (no CDN: snarkjs comes from the npm
//! package). The verifier service serves it (`--explorer-listen`, loopback unless
//! configured otherwise) over a [`Source`] it implements; this crate reads nothing
//! itself.
//!
//! Where to start reading: [`source`] (what the pages need), [`model`] (what the
//! JSON holds), [`router`] (the routes), [`html`] (the pages), `assets/app.js`
//! (charts, live updates, the proof check).

pub mod assets;
pub mod html;
pub mod model;
pub mod source;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use std::sync::Arc;

pub use source::{Page, Source, SourceError};

/// The most items a list page holds.
pub const MAX_PAGE_SIZE: u64 = 100;

/// Items a list page holds unless asked otherwise.
pub const DEFAULT_PAGE_SIZE: u64 = 25;

/// The content security policy of every response: only this server's files;
/// WebAssembly and workers for snarkjs's pairing code.
const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; \
                   style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The explorer's routes over `source`.
pub fn router<S: Source>(source: Arc<S>) -> Router {
    Router::new()
        .route("/", get(jobs_page::<S>))
        .route("/jobs/{id}", get(job_page::<S>))
        .route("/jobs/{id}/epochs/{seq}", get(epoch_page::<S>))
        .route("/accounts/{address}", get(account_page::<S>))
        .route("/service", get(service_page::<S>))
        .route("/api/jobs", get(jobs_json::<S>))
        .route("/api/jobs/{id}", get(job_json::<S>))
        .route("/api/jobs/{id}/epochs/{seq}", get(epoch_json::<S>))
        .route("/api/accounts/{address}", get(account_json::<S>))
        .route("/api/service", get(service_json::<S>))
        .route("/static/app.js", get(|| async { asset("text/javascript; charset=utf-8", Some(assets::APP_JS)) }))
        .route("/static/style.css", get(|| async { asset("text/css; charset=utf-8", Some(assets::STYLE_CSS)) }))
        .route("/static/snarkjs.min.js", get(|| async { asset("text/javascript; charset=utf-8", assets::SNARKJS) }))
        .fallback(|| async { Failure::NotFound("no such page".into()).html() })
        .layer(axum::middleware::map_response(secure))
        .with_state(source)
}

/// Serves the explorer on `listener` (bound by the caller, which so knows the
/// address before the first request) until the task is dropped or aborted.
pub async fn serve<S: Source>(listener: tokio::net::TcpListener, source: Arc<S>) -> std::io::Result<()> {
    axum::serve(listener, router(source)).await
}

async fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn asset(content_type: &'static str, body: Option<&'static str>) -> Response {
    match body {
        Some(body) => ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "max-age=300")], body).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "snarkjs was not installed when this binary was built: run `npm ci` in the repository root and build again",
        )
            .into_response(),
    }
}

/// What went wrong serving a request.
enum Failure {
    BadRequest(String),
    NotFound(String),
    Unavailable(String),
}

impl Failure {
    fn status(&self) -> (StatusCode, &str) {
        match self {
            Failure::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            Failure::NotFound(m) => (StatusCode::NOT_FOUND, m),
            Failure::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
        }
    }

    fn html(&self) -> Response {
        let (status, message) = self.status();
        (status, Html(html::error(status.as_u16(), message))).into_response()
    }

    fn json(&self) -> Response {
        let (status, message) = self.status();
        (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
    }
}

impl From<SourceError> for Failure {
    fn from(e: SourceError) -> Self {
        Failure::Unavailable(format!("cannot read the chain or the receipts now ({e}); try again"))
    }
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
    size: Option<String>,
}

fn number(what: &str, text: &str) -> Result<u64, Failure> {
    text.parse::<u64>().map_err(|_| Failure::BadRequest(format!("{what} must be a whole number, not {text:?}")))
}

impl PageQuery {
    fn page(&self) -> Result<Page, Failure> {
        let page = self.page.as_deref().map_or(Ok(0), |p| number("page", p))?;
        let size = self.size.as_deref().map_or(Ok(DEFAULT_PAGE_SIZE), |s| number("size", s))?;
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(Failure::BadRequest(format!("size must be between 1 and {MAX_PAGE_SIZE}, not {size}")));
        }
        if page.checked_mul(size).is_none_or(|skip| skip > u64::from(u32::MAX)) {
            return Err(Failure::BadRequest(format!("page {page} is beyond any list this explorer shows")));
        }
        Ok(Page { page, size })
    }
}

fn address(text: &str) -> Result<[u8; 20], Failure> {
    let bad = || Failure::BadRequest(format!("{text:?} is not an address: give 0x and 40 hex digits"));
    let hex = text.strip_prefix("0x").ok_or_else(bad)?;
    if hex.len() != 40 {
        return Err(bad());
    }
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

type Shared<S> = State<Arc<S>>;

fn html_or(result: Result<String, Failure>) -> Response {
    match result {
        Ok(page) => Html(page).into_response(),
        Err(f) => f.html(),
    }
}

fn json_or<T: serde::Serialize>(result: Result<T, Failure>) -> Response {
    match result {
        Ok(value) => axum::Json(value).into_response(),
        Err(f) => f.json(),
    }
}

async fn jobs_page<S: Source>(State(s): Shared<S>, Query(q): Query<PageQuery>) -> Response {
    html_or(async {
        let page = q.page()?;
        let (jobs, total) = s.jobs(page).await?;
        Ok(html::jobs(&jobs, total, page.page, page.size))
    }
    .await)
}

async fn jobs_json<S: Source>(State(s): Shared<S>, Query(q): Query<PageQuery>) -> Response {
    json_or(async {
        let page = q.page()?;
        let (jobs, total) = s.jobs(page).await?;
        Ok(serde_json::json!({ "total": total, "page": page.page, "size": page.size, "jobs": jobs }))
    }
    .await)
}

async fn find_job<S: Source>(s: &S, id: &str) -> Result<model::JobPage, Failure> {
    let id = number("the job id", id)?;
    s.job(id).await?.ok_or_else(|| Failure::NotFound(format!("there is no job {id} on this chain")))
}

async fn job_page<S: Source>(State(s): Shared<S>, Path(id): Path<String>) -> Response {
    html_or(async { Ok(html::job(&find_job(s.as_ref(), &id).await?)) }.await)
}

async fn job_json<S: Source>(State(s): Shared<S>, Path(id): Path<String>) -> Response {
    json_or(find_job(s.as_ref(), &id).await)
}

async fn find_epoch<S: Source>(s: &S, id: &str, seq: &str) -> Result<model::EpochProof, Failure> {
    let (id, seq) = (number("the job id", id)?, number("the record seq", seq)?);
    s.epoch(id, seq)
        .await?
        .ok_or_else(|| Failure::NotFound(format!("this verifier has no epoch of job {id} ending at record {seq}")))
}

async fn epoch_page<S: Source>(State(s): Shared<S>, Path((id, seq)): Path<(String, String)>) -> Response {
    html_or(async { Ok(html::epoch(&find_epoch(s.as_ref(), &id, &seq).await?)) }.await)
}

async fn epoch_json<S: Source>(State(s): Shared<S>, Path((id, seq)): Path<(String, String)>) -> Response {
    json_or(find_epoch(s.as_ref(), &id, &seq).await)
}

async fn account_page<S: Source>(State(s): Shared<S>, Path(text): Path<String>) -> Response {
    html_or(async { Ok(html::account(&s.account(address(&text)?).await?)) }.await)
}

async fn account_json<S: Source>(State(s): Shared<S>, Path(text): Path<String>) -> Response {
    json_or(async { Ok(s.account(address(&text)?).await?) }.await)
}

async fn service_page<S: Source>(State(s): Shared<S>) -> Response {
    html_or(async { Ok(html::service(&s.service().await?)) }.await)
}

async fn service_json<S: Source>(State(s): Shared<S>) -> Response {
    json_or(async { Ok(s.service().await?) }.await)
}
