//! The reverse proxy: HTTP/1 on a loopback port, each request forwarded to the instance
//! [`Shared::route`] picks, its latency (to the response head) and outcome recorded for that
//! version. A connection failure is answered with 502 and counts as an error, as a user
//! would see it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::Shared;

type Body = BoxBody<Bytes, hyper::Error>;

/// Binds the proxy and serves it in the background; returns its address.
pub(super) async fn start(shared: Arc<Shared>) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot start the proxy: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Requests and answers are small and each waits for the other: without TCP_NODELAY a
    // write can sit in Nagle's buffer until the peer's delayed ACK.
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Incoming> =
        Client::builder(TokioExecutor::new()).build(connector);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let shared = shared.clone();
            let client = client.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| forward(shared.clone(), client.clone(), req));
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r
}

async fn forward(
    shared: Arc<Shared>,
    client: Client<HttpConnector, Incoming>,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let Some((track, port)) = shared.route() else {
        return Ok(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "no instance is running\n",
        ));
    };
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let Ok(uri) = format!("http://127.0.0.1:{port}{path}").parse() else {
        return Ok(text(StatusCode::BAD_REQUEST, "bad request target\n"));
    };
    *req.uri_mut() = uri;
    let started = Instant::now();
    match client.request(req).await {
        Ok(resp) => {
            shared
                .stats
                .record(track, started.elapsed(), resp.status().is_server_error());
            Ok(resp.map(|b| b.boxed()))
        }
        Err(_) => {
            shared.stats.record(track, started.elapsed(), true);
            Ok(text(StatusCode::BAD_GATEWAY, "instance did not answer\n"))
        }
    }
}
