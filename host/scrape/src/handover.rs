//! Resharding without holes (`shard_handover`): a target the target stage gives to another node
//! is scraped on here until that node has scraped it.
//!
//! When shard nodes reload with a new ring (hashmod's `modulus`, the rendezvous example's
//! `nodes`) one after the other, a target moving from A to B is dropped by A at A's reload and
//! picked up by B at B's: in between nobody scrapes it, and A's stale marker lands before B's
//! first sample (prometheus#12941). Here A keeps its loop running, *leaving*, and asks its
//! peers' `/api/v1/targets` every few seconds; once one lists the target (same scrape URL) as
//! up with a scrape after A let go of it, A stops it, writing its stale markers after B's first
//! sample. A peer that never does is given up on after `max_wait`. A target the stage gives back
//! while leaving simply goes on.
//!
//! No change to the target-stage contract is needed: the stage says which targets this node
//! keeps, as before; the host knows a dropped target from a vanished one (it is still
//! discovered), and the peers' own API says who scrapes what. Peers are asked with no
//! credentials; a node whose API needs them can be given `max_wait` alone (a fixed hand-over).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use wasmfed_config::{HandoverConfig, HttpClientConfig};

use super::fetch::{Fetcher, HttpClient};
use super::scrape_loop::LoopHandle;
use super::target::Target;

/// How often leaving targets' peers are asked.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// A target being handed over: its loop, and since when.
struct Leaving {
    handle: LoopHandle,
    since: SystemTime,
    until: Instant,
}

/// One job's leaving targets.
pub struct Handover {
    config: HandoverConfig,
    client: HttpClient,
    leaving: HashMap<Arc<Target>, Leaving>,
}

/// Why a leaving target was let go.
#[derive(Debug, PartialEq, Eq)]
pub enum LetGo {
    /// This peer scraped it.
    Scraped(String),
    /// No peer did within `max_wait`.
    TimedOut,
}

impl Handover {
    pub fn new(config: Option<&HandoverConfig>) -> Option<Handover> {
        config.map(|config| Handover {
            config: config.clone(),
            client: HttpClient::new(&HttpClientConfig::default()),
            leaving: HashMap::new(),
        })
    }

    /// Keeps scraping `target`, which the stage no longer gives this node.
    pub fn begin(&mut self, target: Arc<Target>, handle: LoopHandle) {
        let leaving = Leaving {
            handle,
            since: SystemTime::now(),
            until: Instant::now() + self.config.max_wait.as_std(),
        };
        self.leaving.insert(target, leaving);
    }

    /// The loop of a leaving target the stage gives back.
    pub fn take_back(&mut self, target: &Target) -> Option<LoopHandle> {
        self.leaving.remove(target).map(|l| l.handle)
    }

    pub fn is_empty(&self) -> bool {
        self.leaving.is_empty()
    }

    /// The leaving targets and their loops, for `/api/v1/targets` (they are still scraped).
    pub fn loops(&self) -> impl Iterator<Item = (&Arc<Target>, &LoopHandle)> {
        self.leaving.iter().map(|(t, l)| (t, &l.handle))
    }

    /// Every leaving target's loop, taken out (the job stops or reloads).
    pub fn drain(&mut self) -> impl Iterator<Item = (Arc<Target>, LoopHandle)> + '_ {
        self.leaving.drain().map(|(t, l)| (t, l.handle))
    }

    /// Asks the peers which leaving targets they scrape; answers those to let go now, their
    /// loops taken out.
    pub async fn settle(&mut self, fetcher: &Fetcher) -> Vec<(Arc<Target>, LoopHandle, LetGo)> {
        let mut scraped: HashMap<String, (String, SystemTime)> = HashMap::new();
        for peer in &self.config.peers {
            match self.active_targets(fetcher, peer).await {
                Ok(up) => {
                    for (url, at) in up {
                        let newer = scraped.get(&url).is_none_or(|(_, seen)| at > *seen);
                        if newer {
                            scraped.insert(url, (peer.clone(), at));
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(peer = %peer, error = %e, "shard hand-over: asking a peer")
                }
            }
        }
        let now = Instant::now();
        let done: HashSet<Arc<Target>> = self
            .leaving
            .iter()
            .filter(|(target, leaving)| {
                let taken = scraped
                    .get(&target.url)
                    .is_some_and(|(_, at)| *at > leaving.since);
                taken || now >= leaving.until
            })
            .map(|(target, _)| target.clone())
            .collect();
        done.into_iter()
            .map(|target| {
                let leaving = self.leaving.remove(&target).expect("listed above");
                let why = match scraped.get(&target.url) {
                    Some((peer, at)) if *at > leaving.since => LetGo::Scraped(peer.clone()),
                    _ => LetGo::TimedOut,
                };
                (target, leaving.handle, why)
            })
            .collect()
    }

    /// A peer's targets that are up, by scrape URL, with their last scrape.
    async fn active_targets(
        &self,
        fetcher: &Fetcher,
        peer: &str,
    ) -> Result<Vec<(String, SystemTime)>, String> {
        let base = match peer.contains("://") {
            true => peer.trim_end_matches('/').to_string(),
            false => format!("http://{peer}"),
        };
        let url = format!("{base}/api/v1/targets?state=active");
        let answer = fetcher
            .fetch_discovery(&self.client, &url, CHECK_EVERY, CHECK_EVERY, 16 << 20)
            .await
            .map_err(|e| e.to_string())?;
        let json: serde_json::Value =
            serde_json::from_slice(&answer.body).map_err(|e| e.to_string())?;
        let targets = json["data"]["activeTargets"].as_array().cloned();
        Ok(targets
            .unwrap_or_default()
            .iter()
            .filter(|t| t["health"] == "up")
            .filter_map(|t| {
                let url = t["scrapeUrl"].as_str()?.to_string();
                let at = chrono::DateTime::parse_from_rfc3339(t["lastScrape"].as_str()?).ok()?;
                let ms = u64::try_from(at.timestamp_millis()).ok()?;
                Some((url, SystemTime::UNIX_EPOCH + Duration::from_millis(ms)))
            })
            .collect())
    }
}
