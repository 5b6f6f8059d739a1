//! The reverse proxy: HTTP/1 on a loopback port, each request forwarded to the instance
//! [`Shared::route`] picks, its latency (to the response head) and outcome recorded for that
//! version. A connection failure is answered with 502 and counts as an error, as a user
//! would see it.
//!
//! The proxy runs on threads of its own, not on the runtime of the run: one per core (at most
//! [`MAX_THREADS`]), each a current-thread tokio runtime accepting from the same listening
//! socket and serving its connections start to end with its own pool of upstream
//! connections. A proxied request is the socket work of a server and a client; on one thread
//! that work waits for one core while the application and its clients use the others, and
//! the executor's own work (timers, journal, analysis) would delay it further. With a thread
//! per core and nothing shared between them but the routing state and the measurements (both
//! short or lock-free, see [`super::stats`]), a connection never moves between threads, so
//! serving a request wakes no other thread.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{Either, Full};
use hyper::body::{Bytes, Incoming};
use hyper::http::uri::{PathAndQuery, Scheme};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::watch;

use super::Shared;

/// More threads than this would only compete with the instances and their clients.
const MAX_THREADS: usize = 4;

/// An upstream answer passed through as it streams, or the proxy's own short answer; an
/// enum rather than a boxed body, which would be an allocation per request.
type Body = Either<Incoming, Full<Bytes>>;

/// The running proxy. Dropping it stops its threads (and closes their connections).
pub(super) struct Proxy {
    addr: SocketAddr,
    /// Dropped to stop: every thread's receiver then sees the channel closed.
    stop: Option<watch::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Binds the proxy's port and starts its threads.
    pub(super) fn start(shared: Arc<Shared>) -> Result<Proxy, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot start the proxy: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("cannot start the proxy: {e}"))?;
        let n = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_THREADS);
        let (stop, stopped) = watch::channel(());
        let mut proxy = Proxy {
            addr,
            stop: Some(stop),
            threads: Vec::with_capacity(n),
        };
        for i in 0..n {
            // Built here so that a failure is reported to the caller, not lost in a thread.
            // Sockets and timers only: the process driver would look for exited children
            // every time the thread goes idle, and the proxy starts none.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
                .map_err(|e| format!("cannot start the proxy: {e}"))?;
            // Each thread registers its own descriptor of the one listening socket: the
            // kernel wakes the threads waiting on it and one of them gets the connection,
            // so idle threads take new connections first.
            let listener = listener
                .try_clone()
                .map_err(|e| format!("cannot start the proxy: {e}"))?;
            let (shared, stopped) = (shared.clone(), stopped.clone());
            let thread = std::thread::Builder::new()
                .name(format!("deployc-proxy-{i}"))
                .spawn(move || rt.block_on(serve(listener, shared, stopped)))
                .map_err(|e| format!("cannot start the proxy thread: {e}"))?;
            // On an error above, dropping `proxy` stops the threads already started.
            proxy.threads.push(thread);
        }
        Ok(proxy)
    }

    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        drop(self.stop.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One proxy thread's state, shared by its connections.
struct Forwarder {
    shared: Arc<Shared>,
    client: Client<HttpConnector, Incoming>,
}

/// Accepts and serves connections until `stopped` closes; returning drops the thread's
/// runtime and with it every connection still open.
async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    // Requests and answers are small and each waits for the other: without TCP_NODELAY a
    // write can sit in Nagle's buffer until the peer's delayed ACK.
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    // Keep-alive pool: an upstream connection serves request after request. One per thread,
    // so that checking a connection out never waits for another thread.
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let fwd = Arc::new(Forwarder { shared, client });
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors, say: retrying at once would spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let fwd = fwd.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let fwd = fwd.clone();
                async move { Ok::<_, Infallible>(fwd.forward(req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r = Response::new(Either::Right(Full::new(Bytes::from_static(
        body.as_bytes(),
    ))));
    *r.status_mut() = status;
    r
}

impl Forwarder {
    async fn forward(&self, req: Request<Incoming>) -> Response<Body> {
        let Some((track, authority)) = self.shared.route() else {
            return text(StatusCode::SERVICE_UNAVAILABLE, "no instance is running\n");
        };
        // The request is sent on as it came, only its target made absolute for the client;
        // the path and query are moved, not copied.
        let (mut head, body) = req.into_parts();
        let mut target = std::mem::take(&mut head.uri).into_parts();
        target.scheme = Some(Scheme::HTTP);
        target.authority = Some(authority);
        if target.path_and_query.is_none() {
            target.path_and_query = Some(PathAndQuery::from_static("/"));
        }
        let Ok(uri) = Uri::from_parts(target) else {
            return text(StatusCode::BAD_REQUEST, "bad request target\n");
        };
        head.uri = uri;
        let started = Instant::now();
        match self.client.request(Request::from_parts(head, body)).await {
            Ok(resp) => {
                self.shared
                    .stats
                    .record(track, started.elapsed(), resp.status().is_server_error());
                resp.map(Either::Left)
            }
            Err(_) => {
                self.shared.stats.record(track, started.elapsed(), true);
                text(StatusCode::BAD_GATEWAY, "instance did not answer\n")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use super::super::LocalProvider;
    use super::*;

    #[test]
    fn answers_from_its_threads_and_stops_when_dropped() {
        let dir = std::env::temp_dir();
        let provider = LocalProvider::new(
            "1.0.0".into(),
            "true".into(),
            1,
            None,
            None,
            dir.clone(),
            dir,
        );
        let proxy = Proxy::start(provider.shared.clone()).unwrap();
        let addr = proxy.addr();
        // More connections than threads, all answered: no instance runs, so 503.
        let mut open = Vec::new();
        for _ in 0..8 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
                .unwrap();
            let mut head = [0u8; 12];
            s.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 503");
            open.push(s);
        }
        drop(proxy);
        assert!(
            TcpStream::connect(addr).is_err(),
            "nothing listens any more"
        );
        for mut s in open {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut rest = Vec::new();
            // The rest of the answer, then the end: the proxy closed the connection.
            s.read_to_end(&mut rest).unwrap();
        }
    }
}
