//! The `store` import as the generated trait wants it: WIT matchers in, WIT series out, with
//! the reading itself done by `crate::store` on host types.

use super::convert::{labels_to_wit, matcher, series_to_wit};
use super::{types, wit_store};
use crate::sandbox::HostState;
use crate::store::compile;

impl wit_store::Host for HostState {
    fn select(
        &mut self,
        matchers: Vec<wit_store::Matcher>,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<wit_store::SeriesSamples>, String> {
        let access = self.store_access()?;
        let matchers = compile(matchers.into_iter().map(matcher))?;
        let selected = access
            .store
            .select(&matchers, start_ms, end_ms, access.max_bytes)?;
        Ok(selected.into_iter().map(series_to_wit).collect())
    }

    fn series(
        &mut self,
        matchers: Vec<wit_store::Matcher>,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<types::Labels>, String> {
        let access = self.store_access()?;
        let matchers = compile(matchers.into_iter().map(matcher))?;
        let series = access
            .store
            .series(&matchers, start_ms, end_ms, access.max_bytes)?;
        Ok(series.into_iter().map(labels_to_wit).collect())
    }
}

impl types::Host for HostState {}
