//! The runtime: what `deployc run` uses to act on the world.
//!
//! Each submodule is one kind of edge, self-contained and driven through an async (tokio) API
//! whose failures come back as data, so the executor can journal them and decide:
//!
//! * [`db`] — migration databases (SQLite, PostgreSQL) with the `deployc_migrations` ledger,
//!   exactly-once application, reverts and backups;
//! * [`channels`] — where messages go (Slack, webhooks, email, stdout, JSON-lines files), with
//!   retries and redacted secrets;
//! * [`metrics`] — where numbers come from (Prometheus, commands), with every failure or empty
//!   answer turned into a typed "no data" reading.

pub mod channels;
pub mod db;
pub mod metrics;
