//! Per-domain request and byte counters, per minute: what operators bill by.
//!
//! A request adds to a handful of atomics of its domain's current minute; no lock is taken
//! except once per domain per minute, when the minute rolls over and the finished one moves into
//! a short history. Counters belong to the domain name, not to a configuration revision, so a
//! configuration change does not reset them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tlsedge_model::MinuteUsage;

/// How many minutes with traffic a domain keeps (7 days).
const HISTORY_MINUTES: usize = 7 * 24 * 60;

fn now_minute() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

/// The counters of one domain.
#[derive(Default)]
pub(crate) struct DomainUsage {
    minute: AtomicU64,
    http: AtomicU64,
    https: AtomicU64,
    http2: AtomicU64,
    bytes_sent: AtomicU64,
    /// Finished minutes with traffic, oldest first.
    history: Mutex<VecDeque<MinuteUsage>>,
}

impl DomainUsage {
    /// Moves the counts of a finished minute into the history. Every count lands in exactly
    /// one minute: the atomics are swapped, never read and reset separately.
    fn roll(&self, now: u64) {
        let Ok(mut history) = self.history.lock() else {
            return;
        };
        let current = self.minute.load(Relaxed);
        if current >= now {
            return;
        }
        let done = MinuteUsage {
            minute: current,
            http: self.http.swap(0, Relaxed),
            https: self.https.swap(0, Relaxed),
            http2: self.http2.swap(0, Relaxed),
            bytes_sent: self.bytes_sent.swap(0, Relaxed),
        };
        self.minute.store(now, Relaxed);
        if !done.is_empty() {
            history.push_back(done);
            while history.len() > HISTORY_MINUTES {
                history.pop_front();
            }
        }
    }

    fn current(&self, now: u64) -> u64 {
        if self.minute.load(Relaxed) != now {
            self.roll(now);
        }
        now
    }

    /// Counts one request.
    pub(crate) fn request(&self, tls: bool, http2: bool) {
        self.current(now_minute());
        if tls {
            self.https.fetch_add(1, Relaxed);
            if http2 {
                self.http2.fetch_add(1, Relaxed);
            }
        } else {
            self.http.fetch_add(1, Relaxed);
        }
    }

    /// Counts response body bytes.
    pub(crate) fn sent(&self, n: u64) {
        self.current(now_minute());
        self.bytes_sent.fetch_add(n, Relaxed);
    }

    /// The minutes with traffic in `[from, to)` (minute numbers), oldest first.
    fn report(&self, from: u64, to: u64) -> Vec<MinuteUsage> {
        self.roll(now_minute());
        let Ok(history) = self.history.lock() else {
            return Vec::new();
        };
        let mut out: Vec<MinuteUsage> = history
            .iter()
            .filter(|m| m.minute >= from && m.minute < to)
            .copied()
            .collect();
        let live = MinuteUsage {
            minute: self.minute.load(Relaxed),
            http: self.http.load(Relaxed),
            https: self.https.load(Relaxed),
            http2: self.http2.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
        };
        if !live.is_empty() && live.minute >= from && live.minute < to {
            out.push(live);
        }
        out
    }
}

/// Every domain's counters, by name. Locked only when a domain's runtime is built and when a
/// report is read, never by a request.
#[derive(Default)]
pub(crate) struct UsageRegistry {
    domains: Mutex<HashMap<String, Arc<DomainUsage>>>,
}

impl UsageRegistry {
    /// The counters of `domain`, created on first use.
    pub(crate) fn of(&self, domain: &str) -> Arc<DomainUsage> {
        match self.domains.lock() {
            Ok(mut m) => m.entry(domain.to_owned()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    /// The minutes with traffic of `domain` in `[from, to)` (minute numbers).
    pub(crate) fn report(&self, domain: &str, from: u64, to: u64) -> Vec<MinuteUsage> {
        let d = self
            .domains
            .lock()
            .ok()
            .and_then(|m| m.get(domain).cloned());
        d.map(|d| d.report(from, to)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_roll_into_history_once() {
        let u = DomainUsage::default();
        u.minute.store(100, Relaxed);
        u.https.store(3, Relaxed);
        u.http.store(1, Relaxed);
        u.roll(101);
        u.https.fetch_add(2, Relaxed);
        u.roll(101);
        let h = u.history.lock().unwrap().clone();
        assert_eq!(h.len(), 1);
        assert_eq!((h[0].minute, h[0].https, h[0].http), (100, 3, 1));
        assert_eq!(u.https.load(Relaxed), 2);
        assert_eq!(u.minute.load(Relaxed), 101);
    }

    #[test]
    fn reports_keep_to_the_window() {
        let u = DomainUsage::default();
        let now = now_minute();
        u.request(true, true);
        u.request(false, false);
        u.sent(10);
        let r = u.report(now, now + 1);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].https, r[0].http2, r[0].http, r[0].bytes_sent),
            (1, 1, 1, 10)
        );
        assert!(u.report(now + 1, now + 2).is_empty());
    }
}
