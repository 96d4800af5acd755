//! One ticker's chain of sources (issue 19): which sources are asked for it, in which order,
//! and what its error is when every one of them failed.
//!
//! **Where a chain comes from.** `--source yahoo,nasdaq,tiingo` (or `QUOTES_SOURCE`) is the
//! chain of every ticker without a prefix; `source:TICKER` is that source only. A list of
//! alternatives, `yahoo:VWRL.L,nasdaq:VWRL` (what beanprice writes per commodity,
//! `price: "USD:yahoo/VTSAX,nasdaq/VTSAX"`), is a chain too, each source with its own
//! ticker: `plan` and `update` build one by joining `source:TICKER` alternatives with
//! commas. (Typed input never holds a comma: lists are split on commas when read.)
//!
//! **Who is left out before any request.** A source that cannot take the ticker
//! (`Source::check`: Coinbase wants a pair) or answer the query (`Source::supports`: Nasdaq
//! has no adjusted closes) is dropped from the chain; a chain left empty is the first
//! source's refusal, the ticker's error, exactly as with one source.
//!
//! **How a chain runs** (in `fetch`): the first source is asked; if it fails for any reason
//! (not found, rate limited, an HTTP error, a timeout, no connection, a malformed answer, no
//! price) the next is asked at once, and so on. A later source is asked only for the
//! tickers that failed before it, so a 25-requests-a-day key is never spent on a ticker
//! Yahoo priced. A source that needs a key that is not set is skipped silently, unless it
//! is the last one: then the ticker fails with the variable to set. A `--deadline` or a
//! signal ends the whole run, chains included. When every source failed, the ticker's error
//! names each source's failure on one line ([`failed`]).

use std::sync::Arc;

use crate::error::FetchError;
use crate::source::{Source, Sources, When, names};
use crate::ticker::Ticker;

/// A source after the first, with the ticker to ask it for.
#[derive(Clone)]
pub struct Link {
    pub source: Arc<dyn Source>,
    pub ticker: Ticker,
}

impl Link {
    pub fn name(&self) -> &'static str {
        self.source.spec().name
    }
}

/// The sources a job asks after its first, in order; none for a source asked alone (and
/// then nothing to allocate, clone or free: every job of a run without a chain is such).
#[derive(Clone, Default)]
pub struct Fallbacks(Option<Arc<[Link]>>);

impl Fallbacks {
    pub fn new(links: Vec<Link>) -> Fallbacks {
        Fallbacks((!links.is_empty()).then(|| links.into()))
    }
}

impl std::ops::Deref for Fallbacks {
    type Target = [Link];

    fn deref(&self) -> &[Link] {
        self.0.as_deref().unwrap_or(&[])
    }
}

/// `--source`'s list, resolved once for every ticker without a prefix: `yahoo,nasdaq`.
/// An unknown name is an error naming the known ones.
pub fn default_chain(sources: &Sources, list: &str) -> Result<Vec<Arc<dyn Source>>, String> {
    let mut chain: Vec<Arc<dyn Source>> = Vec::new();
    for name in list.split(',').map(str::trim) {
        let source = sources.get(name).ok_or_else(|| unknown_source(name))?;
        if chain.iter().any(|s| Arc::ptr_eq(s, source)) {
            return Err(format!("--source names {} twice", source.spec().name));
        }
        chain.push(Arc::clone(source));
    }
    Ok(chain)
}

fn unknown_source(name: &str) -> String {
    let shown: String = name.chars().take(20).collect();
    format!("unknown source {shown:?}; known sources: {}", names())
}

/// Resolve one input (`VTSAX`, `coinbase:BTC-USD`, or alternatives `yahoo:A,nasdaq:A`) to its
/// chain for a query of `when`: the first link and the ones after it. `default` is
/// `--source`'s chain, for input without a prefix.
pub fn resolve(
    sources: &Sources,
    input: &str,
    default: &[Arc<dyn Source>],
    when: When,
) -> Result<(Link, Vec<Link>), FetchError> {
    // The common case, one source for one ticker, builds no list (it is every ticker of a
    // run without a chain, and such a run is benchmarked).
    if !input.contains(',') {
        let (named, symbol) = prefixed(sources, input)?;
        let only = match named {
            Some(source) => Some(source),
            None if default.len() == 1 => default.first(),
            None => None,
        };
        if let Some(source) = only {
            return admit(source, Ticker::parse(symbol)?, when).map(|link| (link, Vec::new()));
        }
    }
    let mut links: Vec<Link> = Vec::new();
    let mut refused: Option<FetchError> = None;
    for alternative in input.split(',') {
        let (named, symbol) = prefixed(sources, alternative)?;
        let ticker = Ticker::parse(symbol)?;
        let candidates = match named {
            Some(source) => std::slice::from_ref(source),
            None => default,
        };
        for source in candidates {
            let taken = links
                .iter()
                .any(|l| Arc::ptr_eq(&l.source, source) && l.ticker == ticker);
            if taken {
                continue;
            }
            match admit(source, ticker.clone(), when) {
                Ok(link) => links.push(link),
                Err(e) => {
                    refused.get_or_insert(e);
                }
            }
        }
    }
    let mut links = links.into_iter();
    match links.next() {
        Some(first) => Ok((first, links.collect())),
        None => {
            Err(refused
                .unwrap_or_else(|| FetchError::InvalidTicker("no source to ask for it".into())))
        }
    }
}

/// The source an alternative names (`None` without a prefix), and its symbol.
type Prefixed<'s, 'i> = (Option<&'s Arc<dyn Source>>, &'i str);

/// `source:SYMBOL` split into the source named (`None` without a prefix) and the symbol.
fn prefixed<'s, 'i>(
    sources: &'s Sources,
    alternative: &'i str,
) -> Result<Prefixed<'s, 'i>, FetchError> {
    // `:` is not in the ticker alphabet, so the first one always ends a prefix.
    match alternative.split_once(':') {
        Some((name, symbol)) => {
            let source = sources
                .get(name)
                .ok_or_else(|| FetchError::InvalidTicker(unknown_source(name)))?;
            Ok((Some(source), symbol))
        }
        None => Ok((None, alternative)),
    }
}

/// `source` as a link for `ticker`, if it can take the ticker and answer the query.
fn admit(source: &Arc<dyn Source>, ticker: Ticker, when: When) -> Result<Link, FetchError> {
    source.check(&ticker)?;
    source.supports(when)?;
    Ok(Link {
        source: Arc::clone(source),
        ticker,
    })
}

/// The error of a ticker whose every source failed, in the order they were asked: one
/// source's failure is that failure; several are [`FetchError::AllFailed`], one line naming
/// each.
pub fn failed(mut failures: Vec<(&'static str, FetchError)>) -> FetchError {
    if failures.len() == 1 {
        return failures.remove(0).1;
    }
    FetchError::AllFailed(failures)
}

/// A failure in a few words, for `-v`'s fallback line: `rate limited`, `not found`.
pub fn reason(error: &FetchError) -> String {
    error.kind().replace('_', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Adjust, Interval, Range};
    use crate::source::Query;

    fn sources() -> Sources {
        Sources::new(|e| Ok(reqwest::Url::parse(e.default_url).unwrap())).unwrap()
    }

    fn names_of(chain: &(Link, Vec<Link>)) -> Vec<String> {
        std::iter::once(&chain.0)
            .chain(&chain.1)
            .map(|l| format!("{}:{}", l.name(), l.ticker))
            .collect()
    }

    #[test]
    fn the_default_chain_is_a_list_of_known_sources_named_once() {
        let sources = sources();
        let chain = default_chain(&sources, "yahoo,Coinbase").unwrap();
        let names: Vec<&str> = chain.iter().map(|s| s.spec().name).collect();
        assert_eq!(names, ["yahoo", "coinbase"]);
        let err = |list| default_chain(&sources, list).err().unwrap();
        assert!(err("yahoo,yahoo").contains("twice"));
        let err = err("yahoo,nope");
        assert!(err.contains("unknown source \"nope\""), "{err}");
    }

    #[test]
    fn a_prefix_is_that_source_only_and_alternatives_keep_their_order() {
        let sources = sources();
        let default = default_chain(&sources, "yahoo,coinbase").unwrap();
        let resolve = |input| resolve(&sources, input, &default, When::Latest);
        // Coinbase cannot take VTSAX (not a pair): it is left out of the chain.
        assert_eq!(names_of(&resolve("vtsax").unwrap()), ["yahoo:VTSAX"]);
        assert_eq!(
            names_of(&resolve("BTC-USD").unwrap()),
            ["yahoo:BTC-USD", "coinbase:BTC-USD"]
        );
        assert_eq!(
            names_of(&resolve("coinbase:BTC-USD").unwrap()),
            ["coinbase:BTC-USD"]
        );
        assert_eq!(
            names_of(&resolve("coinbase:ETH-EUR,yahoo:ETH-EUR,ETH-EUR").unwrap()),
            ["coinbase:ETH-EUR", "yahoo:ETH-EUR"]
        );
        // Nothing left: the first source's own refusal, as with one source.
        let err = resolve("coinbase:AAPL").err().unwrap();
        assert!(err.to_string().contains("not a currency pair"), "{err}");
        assert_eq!(resolve("nope:X").err().unwrap().kind(), "invalid_ticker");
        assert_eq!(resolve("yahoo:A B").err().unwrap().kind(), "invalid_ticker");
    }

    #[test]
    fn a_source_that_cannot_answer_the_query_is_left_out() {
        struct NoAdjusted;
        impl Source for NoAdjusted {
            fn spec(&self) -> &'static crate::source::SourceSpec {
                &crate::source::coinbase::SPEC
            }
            fn supports(&self, when: When) -> Result<(), FetchError> {
                match when.adjust() {
                    Some(Adjust::All) => Err(FetchError::Unsupported {
                        api: "Test",
                        what: "adjusted closes".into(),
                    }),
                    _ => Ok(()),
                }
            }
            fn requests(&self, _: &Query) -> Vec<reqwest::Url> {
                Vec::new()
            }
            fn parse(
                &self,
                _: &Query,
                _: &[&crate::source::Answer],
            ) -> Result<crate::source::Parsed, FetchError> {
                Ok(Vec::new().into())
            }
        }
        let sources = sources();
        let odd: Arc<dyn Source> = Arc::new(NoAdjusted);
        let yahoo = Arc::clone(sources.get("yahoo").unwrap());
        let day = jiff::civil::date(2021, 1, 4);
        let range = |adjust| When::Range(Range::new(day, day, Interval::Day, adjust).unwrap());
        let chain = [Arc::clone(&odd), yahoo];
        let (first, rest) = resolve(&sources, "X-Y", &chain, range(Adjust::All)).unwrap();
        assert_eq!((first.name(), rest.len()), ("yahoo", 0));
        let (first, rest) = resolve(&sources, "X-Y", &chain, range(Adjust::None)).unwrap();
        assert_eq!((first.name(), rest.len()), ("coinbase", 1));
        let err = resolve(&sources, "X-Y", &chain[..1], range(Adjust::All))
            .err()
            .unwrap();
        assert_eq!(err.kind(), "unsupported");
    }

    #[test]
    fn several_failures_are_one_line_of_the_last_ones_kind() {
        let limited = FetchError::RateLimited {
            api: "Yahoo",
            retry_after: None,
        };
        let missing = FetchError::NotFound {
            api: "Nasdaq",
            detail: "Symbol not exists.".into(),
            hint: "check the symbol",
        };
        assert_eq!(failed(vec![("yahoo", limited.clone())]), limited);
        let both = failed(vec![("yahoo", limited), ("nasdaq", missing)]);
        assert_eq!(both.kind(), "not_found");
        assert_eq!(
            both.to_string(),
            "every source failed: [yahoo] rate limited by Yahoo (HTTP 429); wait a minute and \
             try again, or lower --jobs [nasdaq] not found on Nasdaq (Symbol not exists.); \
             check the symbol"
        );
        assert_eq!(reason(&both), "not found");
    }
}
