//! Scraping: discovery, scrape loops and exposition-format parsing.

pub mod parse;
