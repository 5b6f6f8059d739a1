//! The runtime's edges against real things: SQLite files, the machine's PostgreSQL server,
//! loopback HTTP and SMTP servers started here, and a real Prometheus server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod channels;
mod db_postgres;
mod db_sqlite;
mod metrics;
mod net;
#[path = "../common/prometheus.rs"]
mod prometheus_server;
