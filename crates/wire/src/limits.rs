//! Throttles: connection attempts per address, queries per hour per
//! account (the policy's most specific rate rule), and the lockout of an
//! account name after repeated failed logins.
//!
//! Lockout counts failures by the name given, whether or not the account
//! exists, and a locked name answers exactly like a wrong password: an
//! attacker learns nothing about which accounts exist.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Settings of the throttles.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    /// Connection attempts per address per minute.
    pub attempts_per_minute: u32,
    /// Failed logins before a name is locked.
    pub lockout_threshold: u32,
    /// How long a locked name stays locked.
    pub lockout_duration: Duration,
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            attempts_per_minute: 600,
            lockout_threshold: 5,
            lockout_duration: Duration::from_secs(15 * 60),
        }
    }
}

/// A query refused by the rate limit: the limit and when to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    pub queries_per_hour: u64,
    pub retry_at: SystemTime,
}

#[derive(Debug, Default)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
}

pub struct Limits {
    config: LimitsConfig,
    attempts: DefaultKeyedRateLimiter<IpAddr>,
    /// One keyed limiter per quota, keyed by account: accounts with the
    /// same limit share a limiter but not a budget.
    queries: Mutex<HashMap<u64, DefaultKeyedRateLimiter<String>>>,
    failures: Mutex<HashMap<String, Failures>>,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn retry_at(wait: Duration) -> SystemTime {
    SystemTime::now() + wait
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Limits {
        let per_minute = NonZeroU32::new(config.attempts_per_minute.max(1)).expect("at least one");
        Limits {
            attempts: RateLimiter::keyed(Quota::per_minute(per_minute)),
            queries: Mutex::default(),
            failures: Mutex::default(),
            config,
        }
    }

    /// Counts a connection attempt from `ip`; `Err` when over the limit.
    pub fn attempt(&self, ip: IpAddr) -> Result<(), SystemTime> {
        self.attempts
            .check_key(&ip)
            .map_err(|not_until| retry_at(not_until.wait_time_from(DefaultClock::default().now())))
    }

    /// Counts one query of `account` against `queries_per_hour`.
    pub fn query(&self, account: &str, queries_per_hour: Option<u64>) -> Result<(), OverLimit> {
        let Some(limit) = queries_per_hour else {
            return Ok(());
        };
        let mut limiters = self.queries.lock().expect("query limiters");
        let limiter = limiters.entry(limit).or_insert_with(|| {
            let burst =
                NonZeroU32::new(u32::try_from(limit).unwrap_or(u32::MAX).max(1)).expect("nonzero");
            // `limit` per hour, usable in a burst, replenished evenly.
            let period = Duration::from_secs(3600) / burst.get();
            let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
                .expect("a positive period")
                .allow_burst(burst);
            RateLimiter::keyed(quota)
        });
        limiter
            .check_key(&account.to_owned())
            .map_err(|not_until| OverLimit {
                queries_per_hour: limit,
                retry_at: retry_at(not_until.wait_time_from(DefaultClock::default().now())),
            })
    }

    /// Whether a name is locked out now.
    pub fn locked(&self, user: &str) -> bool {
        let failures = self.failures.lock().expect("failures");
        failures
            .get(user)
            .and_then(|f| f.locked_until)
            .is_some_and(|until| Instant::now() < until)
    }

    /// Records a failed login; returns true when this failure locks the name.
    pub fn failed(&self, user: &str) -> bool {
        let mut failures = self.failures.lock().expect("failures");
        let f = failures.entry(user.to_owned()).or_default();
        if f.locked_until.is_some_and(|until| Instant::now() >= until) {
            *f = Failures::default();
        }
        f.count += 1;
        if f.count >= self.config.lockout_threshold && f.locked_until.is_none() {
            f.locked_until = Some(Instant::now() + self.config.lockout_duration);
            return true;
        }
        false
    }

    /// A successful login clears the count.
    pub fn succeeded(&self, user: &str) {
        self.failures.lock().expect("failures").remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_after_threshold_and_for_unknown_names_too() {
        let l = Limits::new(LimitsConfig {
            lockout_threshold: 3,
            lockout_duration: Duration::from_millis(200),
            ..LimitsConfig::default()
        });
        for name in ["real", "ghost"] {
            assert!(!l.failed(name));
            assert!(!l.failed(name));
            assert!(l.failed(name), "third failure locks");
            assert!(l.locked(name));
        }
        std::thread::sleep(Duration::from_millis(250));
        assert!(!l.locked("real"), "the cooling period ends");
        l.succeeded("ghost");
        assert!(!l.locked("ghost"));
    }

    #[test]
    fn queries_are_limited_per_account_with_a_retry_time() {
        let l = Limits::new(LimitsConfig::default());
        for _ in 0..3 {
            l.query("a", Some(3)).unwrap();
        }
        let over = l.query("a", Some(3)).unwrap_err();
        assert_eq!(over.queries_per_hour, 3);
        let wait = over
            .retry_at
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        assert!(
            wait > Duration::from_secs(60) && wait <= Duration::from_secs(1200),
            "{wait:?}"
        );
        // Another account has its own budget; no rule means no limit.
        l.query("b", Some(3)).unwrap();
        for _ in 0..100 {
            l.query("a", None).unwrap();
        }
    }

    #[test]
    fn attempts_per_address() {
        let l = Limits::new(LimitsConfig {
            attempts_per_minute: 2,
            ..LimitsConfig::default()
        });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        l.attempt(ip).unwrap();
        l.attempt(ip).unwrap();
        assert!(l.attempt(ip).is_err());
        l.attempt("10.0.0.2".parse().unwrap()).unwrap();
    }
}
