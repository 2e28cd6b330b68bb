//! What operators and other clients rely on: gRPC reflection (both versions) lists
//! and describes the service, the health service says it is serving, and the
//! metrics endpoint counts submissions by outcome; TLS when configured.

#[path = "../../contracts/tests/common/mod.rs"]
mod common;
mod support;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use zkmeter_service::proto;

async fn reflect(url: &str, request: MessageRequest) -> MessageResponse {
    let mut client = ServerReflectionClient::new(channel(url).await);
    let outbound = tokio_stream::iter([ServerReflectionRequest { host: String::new(), message_request: Some(request) }]);
    let mut inbound = client.server_reflection_info(outbound).await.unwrap().into_inner();
    inbound.message().await.unwrap().unwrap().message_response.unwrap()
}

async fn channel(url: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(url.to_owned()).unwrap().connect().await.unwrap()
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let (mut client, url, metrics) = start_with_metrics(dir.path()).await;

    let MessageResponse::ListServicesResponse(list) = reflect(&url, MessageRequest::ListServices(String::new())).await else {
        panic!("not a service list");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in ["zkmeter.v1.VerifierService", "grpc.health.v1.Health"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let MessageResponse::FileDescriptorResponse(files) =
        reflect(&url, MessageRequest::FileContainingSymbol("zkmeter.v1.VerifierService".into())).await
    else {
        panic!("not a file descriptor");
    };
    assert!(!files.file_descriptor_proto.is_empty());

    let mut health = HealthClient::new(channel(&url).await);
    let status = health
        .check(HealthCheckRequest { service: "zkmeter.v1.VerifierService".into() })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);

    // One refused submission shows up in the metrics.
    let err = client.submit_proof(proto::SubmitProofRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let page = http_get(metrics, "/metrics").await;
    assert!(page.starts_with("HTTP/1.0 200") || page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("zkmeter_verifier_submissions_total{outcome=\"malformed\"} 1"), "{page}");
    assert!(page.contains("zkmeter_verifier_verify_batch_seconds"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tls_only_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let cert = fixtures.join("localhost.crt");

    // Half a TLS configuration is refused at start, saying what is missing.
    let half = zkmeter_service::config::Config { tls_cert: Some(cert.clone()), ..local_config(dir.path()) };
    let err = zkmeter_service::server::serve(half, |_| {}, std::future::pending()).await.unwrap_err();
    assert!(format!("{err:#}").contains("both tls_cert and tls_key"), "{err:#}");

    let config = zkmeter_service::config::Config {
        tls_cert: Some(cert.clone()),
        tls_key: Some(fixtures.join("localhost.key")),
        ..local_config(dir.path())
    };
    let (grpc, _) = serve_in_process(config).await;
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(std::fs::read(fixtures.join("ca.crt")).unwrap()))
        .domain_name("localhost");
    let channel = tonic::transport::Endpoint::from_shared(format!("https://{grpc}"))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = proto::verifier_service_client::VerifierServiceClient::new(channel);
    let circuit = client.get_circuit(proto::GetCircuitRequest::default()).await.unwrap().into_inner();
    assert_eq!(circuit.slots, common::SLOTS);

    // A plaintext client gets nothing from a TLS port.
    let plain = async {
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://{grpc}")).unwrap().connect().await.map_err(|e| e.to_string())?;
        let mut client = proto::verifier_service_client::VerifierServiceClient::new(channel);
        client.get_circuit(proto::GetCircuitRequest::default()).await.map_err(|e| e.to_string())
    };
    let plain = tokio::time::timeout(std::time::Duration::from_secs(10), plain).await.unwrap();
    assert!(plain.is_err(), "a plaintext call to the TLS port must fail");
}

/// Waits until the server closes `stream` (EOF or a reset), at most `within`.
/// (What the server sends first, its HTTP/2 settings, is read past.)
async fn closed_within(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    let mut buf = [0u8; 256];
    let until_closed = async {
        while let Ok(1..) = stream.read(&mut buf).await {}
    };
    tokio::time::timeout(within, until_closed).await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_bounded_per_peer_and_idle_ones_closed() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path());
    let config = zkmeter_service::config::Config {
        max_connections_per_peer: 3,
        request_timeout_ms: 500,
        idle_timeout_ms: 1_500,
        ..local_config(dir.path())
    };
    let (grpc, _) = serve_in_process(config).await;

    // Three idle connections fill this peer's share; a fourth is closed at once.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(tokio::net::TcpStream::connect(grpc).await.unwrap());
    }
    let mut extra = tokio::net::TcpStream::connect(grpc).await.unwrap();
    assert!(closed_within(&mut extra, Duration::from_secs(5)).await, "a connection beyond the peer's share is closed");
    assert!(!closed_within(&mut idle[0], Duration::from_millis(200)).await, "connections within the share stay open");

    // Idle past the timeout, they are closed, and the peer can call again.
    for stream in &mut idle {
        assert!(closed_within(stream, Duration::from_secs(10)).await, "an idle connection is closed");
    }
    let mut client = proto::verifier_service_client::VerifierServiceClient::new(channel(&format!("http://{grpc}")).await);
    client.get_circuit(proto::GetCircuitRequest::default()).await.unwrap();

    // A connection that sends half a request and stalls is closed too.
    let mut stalled = tokio::net::TcpStream::connect(grpc).await.unwrap();
    stalled.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    assert!(closed_within(&mut stalled, Duration::from_secs(10)).await, "a stalled connection is closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_with_an_idle_timeout_shorter_than_its_requests_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = zkmeter_service::config::Config { request_timeout_ms: 5_000, idle_timeout_ms: 1_000, ..local_config(dir.path()) };
    let err = config.connection_limits().unwrap_err().to_string();
    assert!(err.starts_with("idle_timeout_ms (1000) must be longer than request_timeout_ms (5000)"), "{err}");
}
