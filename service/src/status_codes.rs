//! The status codes clients see where tonic answers on its own, set to what
//! the gRPC spec's code table asks of a server:
//!
//! - a request that is no valid protobuf message: INVALID_ARGUMENT (tonic says
//!   INTERNAL, which reads as the server's fault and invites a retry);
//! - a message over the size limit: RESOURCE_EXHAUSTED (tonic: OUT_OF_RANGE);
//! - no answer within the server's request timeout: DEADLINE_EXCEEDED (tonic's
//!   own timeout answers CANCELLED, so this layer keeps the time itself).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::body::Body;
use tonic::codegen::http;
use tower::{Layer, Service};

/// The layer; `timeout` is the server's deadline for each request.
#[derive(Clone, Copy, Debug)]
pub struct StatusCodesLayer {
    /// How long a request may take.
    pub timeout: Duration,
}

impl<S> Layer<S> for StatusCodesLayer {
    type Service = StatusCodes<S>;

    fn layer(&self, inner: S) -> StatusCodes<S> {
        StatusCodes { inner, timeout: self.timeout }
    }
}

/// The service the layer wraps.
#[derive(Clone, Debug)]
pub struct StatusCodes<S> {
    inner: S,
    timeout: Duration,
}

impl<S, B> Service<http::Request<B>> for StatusCodes<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let answer = self.inner.call(request);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, answer).await {
                Ok(answer) => answer.map(corrected),
                Err(_) => Ok(tonic::Status::deadline_exceeded(format!(
                    "no answer within the server's request timeout of {} ms; try again later, or with fewer proofs per call",
                    timeout.as_millis()
                ))
                .into_http()),
            }
        })
    }
}

/// `response` with tonic's codes for undecodable and oversized requests
/// replaced (a trailers-only error response carries its status in the headers).
fn corrected(mut response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers_mut();
    let code = headers.get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i32>().ok());
    // grpc-message is percent-encoded: spaces are %20.
    let message = headers.get("grpc-message").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let replacement = match code.map(tonic::Code::from) {
        Some(tonic::Code::Internal) if message.starts_with("failed%20to%20decode") => Some(tonic::Code::InvalidArgument),
        Some(tonic::Code::OutOfRange) if message.contains("message%20length%20too%20large") => {
            Some(tonic::Code::ResourceExhausted)
        }
        _ => None,
    };
    if let Some(code) = replacement {
        headers.insert("grpc-status", http::HeaderValue::from(code as i32));
    }
    response
}
