//! What one ingest came to: the counts a scrape reports in its synthetic series, in the node's
//! own metrics and in its logs.

use crate::ha::Replica;

/// The counts a scrape reports in its synthetic series and in the node's own metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Samples in the exposition (`scrape_samples_scraped`).
    pub scraped: usize,
    /// Samples left after label merging and the series stage (`scrape_samples_post_metric_relabeling`).
    pub kept: usize,
    /// Series this target exposed that it had not exposed recently (`scrape_series_added`).
    pub series_added: usize,
    /// Samples stored (stale markers not included).
    pub appended: usize,
    /// Samples storage refused as out of order.
    pub out_of_order: usize,
    /// Samples storage refused as older than the head (their range is in a block already).
    pub out_of_bounds: usize,
    /// Samples storage refused as a second, different value at the same timestamp.
    pub duplicates: usize,
    /// Stale markers written for series that vanished.
    pub stale_markers: usize,
    /// Every-sample answers only: samples their series held already.
    pub resent: usize,
    /// HA: samples of a replica that is not its cluster's elected one, dropped.
    pub standby: usize,
    /// HA: replicas this scrape elected because the elected one went silent, with the one
    /// they replace.
    pub took_over: Vec<(Replica, String)>,
    /// HA in every-sample mode: a take-over dropped this answer's samples of the new replica;
    /// ask it again from an older cursor so its samples fill the gap the old one left.
    pub rewind: bool,
    /// Series the exposition held that were already in the target's cache.
    pub cache_hits: usize,
    /// New series the series stage could not decide (it failed or backs off): their samples
    /// were dropped, and they are asked about again on the next scrape.
    pub undecided_series: usize,
    /// Why the series stage gave no answer, when it did not.
    pub stage_error: Option<String>,
    /// New series refused because the tenant is at its series limit; their samples were
    /// dropped, and they are tried again on the next scrape.
    pub series_refused: usize,
}

impl IngestReport {
    /// Adds another ingest's counts (the pages of one every-sample scrape).
    pub fn absorb(&mut self, other: IngestReport) {
        self.scraped += other.scraped;
        self.kept += other.kept;
        self.series_added += other.series_added;
        self.appended += other.appended;
        self.out_of_order += other.out_of_order;
        self.out_of_bounds += other.out_of_bounds;
        self.duplicates += other.duplicates;
        self.stale_markers += other.stale_markers;
        self.resent += other.resent;
        self.standby += other.standby;
        self.took_over.extend(other.took_over);
        self.rewind |= other.rewind;
        self.cache_hits += other.cache_hits;
        self.undecided_series += other.undecided_series;
        self.series_refused += other.series_refused;
        if other.stage_error.is_some() {
            self.stage_error = other.stage_error;
        }
    }
}
