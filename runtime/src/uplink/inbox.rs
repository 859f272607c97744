//! Traffic from the broker to the pole: the topic filters the pole subscribes to and the
//! messages that arrive on them. The MQTT link subscribes every filter at each connection
//! (sessions are clean) and follows changes while connected; whoever owns the receiving
//! end (the control module) decides what the messages mean.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

/// A message the broker delivered on one of the pole's subscriptions.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// The topic it was published on.
    pub topic: String,
    /// Its payload, as published.
    pub payload: Vec<u8>,
}

/// The topic filters the pole wants to receive.
#[derive(Debug)]
pub struct Subscriptions {
    filters: watch::Sender<BTreeSet<String>>,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            filters: watch::channel(BTreeSet::new()).0,
        }
    }
}

impl Subscriptions {
    /// Adds a filter (subscribed at once if connected).
    pub fn add(&self, filter: &str) {
        self.filters
            .send_if_modified(|filters| filters.insert(filter.to_string()));
    }

    /// Removes a filter (unsubscribed at once if connected).
    pub fn remove(&self, filter: &str) {
        self.filters
            .send_if_modified(|filters| filters.remove(filter));
    }

    /// The filters now.
    pub fn current(&self) -> BTreeSet<String> {
        self.filters.borrow().clone()
    }

    /// Follows changes.
    pub fn watch(&self) -> watch::Receiver<BTreeSet<String>> {
        self.filters.subscribe()
    }
}

/// The link's side of the inbox: what to subscribe and where to deliver.
#[derive(Debug, Clone)]
pub struct Inbox {
    /// Filters to subscribe.
    pub subscriptions: Arc<Subscriptions>,
    /// Where received messages go. Unbounded so the connection is never held up by a busy
    /// receiver; the broker's packet limit and the subscriptions bound what can arrive.
    pub deliver: mpsc::UnboundedSender<Incoming>,
}

impl Inbox {
    /// An inbox over `subscriptions` and the receiver of its messages.
    pub fn new(subscriptions: Arc<Subscriptions>) -> (Self, mpsc::UnboundedReceiver<Incoming>) {
        let (deliver, receiver) = mpsc::unbounded_channel();
        (
            Self {
                subscriptions,
                deliver,
            },
            receiver,
        )
    }

    /// An inbox that subscribes to nothing (a pole without remote control).
    pub fn none() -> Self {
        Self::new(Arc::default()).0
    }
}
