//! The outbox: messages delivered in the background, so that the control loop never waits on
//! a channel.
//!
//! A channel can hang (a webhook that accepts the connection and never answers) or retry for
//! most of a minute. If the executor awaited each delivery, a rollback would wait behind the
//! `on rollback` message and a hold would stretch by the retries of its `every` messages. So
//! the executor journals a message's intent (`message_queued`) and hands it to the outbox; one
//! worker task per channel delivers that channel's messages in order (each delivery bounded
//! by [`DELIVERY_LIMIT_MS`] whatever the channel's own retries do), and reports each result,
//! which the executor journals (`message_sent`) at its next journal write. A hanging channel
//! holds up only its own later messages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::world::{Channel, Done, Message};

/// The most one delivery (all its attempts) may take before the worker gives up on it.
pub(crate) const DELIVERY_LIMIT_MS: u64 = 60_000;

/// How long the end of a run waits for the messages still being delivered.
pub(crate) const FLUSH_LIMIT_MS: u64 = 10_000;

/// One message for one channel.
struct Job {
    key: String,
    channel: Arc<dyn Channel>,
    message: Message,
}

/// What a delivery came to.
pub(crate) struct Delivered {
    pub(crate) key: String,
    pub(crate) channel: String,
    pub(crate) event: String,
    pub(crate) text: String,
    pub(crate) required: bool,
    pub(crate) result: Done,
}

/// A message handed to a worker and not delivered yet.
pub(crate) struct Pending {
    pub(crate) channel: String,
    pub(crate) event: String,
    pub(crate) required: bool,
}

pub(crate) struct Outbox {
    workers: HashMap<String, mpsc::UnboundedSender<Job>>,
    done_tx: mpsc::UnboundedSender<Delivered>,
    done_rx: mpsc::UnboundedReceiver<Delivered>,
    pending: HashMap<String, Pending>,
}

impl Default for Outbox {
    fn default() -> Self {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        Outbox {
            workers: HashMap::new(),
            done_tx,
            done_rx,
            pending: HashMap::new(),
        }
    }
}

impl Outbox {
    /// Hands `message` to the worker of `channel` (started on first use). Must be called from
    /// within the tokio runtime.
    pub(crate) fn queue(
        &mut self,
        key: String,
        channel: Arc<dyn Channel>,
        required: bool,
        message: Message,
    ) {
        let name = channel.name().to_string();
        self.pending.insert(
            key.clone(),
            Pending {
                channel: name.clone(),
                event: message.event.clone(),
                required,
            },
        );
        let done = self.done_tx.clone();
        let tx = self.workers.entry(name).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker(rx, done, required));
            tx
        });
        let job = Job {
            key: key.clone(),
            channel,
            message,
        };
        if let Err(mpsc::error::SendError(job)) = tx.send(job) {
            // The worker is gone (it cannot panic, but a closed queue is still an answer):
            // the message is reported as not delivered rather than lost silently.
            let _ = self.done_tx.send(Delivered {
                key,
                channel: job.channel.name().to_string(),
                event: job.message.event,
                text: job.message.text,
                required,
                result: Err("the channel's delivery task has stopped".into()),
            });
        }
    }

    /// A delivery that has finished, if any, without waiting.
    pub(crate) fn try_next(&mut self) -> Option<Delivered> {
        let d = self.done_rx.try_recv().ok()?;
        self.pending.remove(&d.key);
        Some(d)
    }

    /// The next delivery to finish, waiting at most `ms`.
    pub(crate) async fn next_within(&mut self, ms: u64) -> Option<Delivered> {
        if self.pending.is_empty() {
            return None;
        }
        let d = tokio::time::timeout(Duration::from_millis(ms), self.done_rx.recv())
            .await
            .ok()??;
        self.pending.remove(&d.key);
        Some(d)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub(crate) fn has_required(&self) -> bool {
        self.pending.values().any(|p| p.required)
    }

    /// Gives up on what is still pending (the run ends): the keys and what they were.
    pub(crate) fn abandon(&mut self) -> Vec<(String, Pending)> {
        let mut out: Vec<(String, Pending)> = self.pending.drain().collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

async fn worker(
    mut rx: mpsc::UnboundedReceiver<Job>,
    done: mpsc::UnboundedSender<Delivered>,
    required: bool,
) {
    while let Some(job) = rx.recv().await {
        let result = match tokio::time::timeout(
            Duration::from_millis(DELIVERY_LIMIT_MS),
            job.channel.send(&job.message),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(format!(
                "not delivered within {} s",
                DELIVERY_LIMIT_MS / 1000
            )),
        };
        let d = Delivered {
            key: job.key,
            channel: job.channel.name().to_string(),
            event: job.message.event,
            text: job.message.text,
            required,
            result,
        };
        if done.send(d).is_err() {
            return;
        }
    }
}
