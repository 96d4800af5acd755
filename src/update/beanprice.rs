//! beanprice's `price:` metadata, parsed once into a checked model of what a commodity is
//! priced with (issue 17, item 9).
//!
//! `price: "USD:yahoo/VTSAX,nasdaq/VTSAX EUR:yahoo/VTSAX.DE"` prices the commodity in each
//! quote currency named (separated by spaces or `;`), each from the first of its
//! `module/TICKER` alternatives that answers (separated by commas). `module/^TICKER` is the
//! inverse of TICKER's price: on commodity `USD`, `EUR:yahoo/^EURUSD=X` is one USD in euros.
//! `price: ""` means: do not price this commodity. The module names bean-price's sources
//! (`yahoo`, `beanprice.yahoo`, `beanprice.sources.yahoo`); the ones that are sources of
//! `quotes` (its registry, and bean-price's `ecbrates` as `ecb`) can be fetched.
//!
//! Every alternative is kept, in order, whether or not `quotes` knows its source. The ones
//! `quotes` can fetch make the commodity's chain of sources (issue 19): the first is asked,
//! and each next one only when the ones before it failed.

use crate::source::SourceSpec;
use crate::ticker::Ticker;

/// What a commodity's `price:` metadata says to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceSpec {
    /// One per quote currency, in the order written; none for `price: ""`.
    pub quotes: Vec<QuoteSpec>,
}

/// The prices of a commodity in one quote currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteSpec {
    /// The currency the price is in: `USD`.
    pub currency: String,
    /// Where to get it, first choice first.
    pub alternatives: Vec<Alternative>,
}

/// One `module/TICKER` (or `module/^TICKER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    /// The module as written: `beanprice.yahoo`.
    pub module: String,
    /// The source of `quotes` it is (its registry name), if it is one.
    pub source: Option<&'static str>,
    /// The ticker as written, without `^`.
    pub ticker: String,
    /// `^`: the price is the inverse of the ticker's.
    pub inverted: bool,
}

/// bean-price's module names for sources `quotes` calls otherwise.
const MODULE_ALIASES: &[(&str, &str)] = &[("ecbrates", "ecb")];

impl PriceSpec {
    /// Parse a `price:` value, as bean-price's `parse_source_map` does; the message says
    /// which part is wrong.
    pub fn parse(value: &str) -> Result<PriceSpec, String> {
        let mut quotes: Vec<QuoteSpec> = Vec::new();
        for part in value
            .split(|c: char| c.is_whitespace() || c == ';')
            .filter(|p| !p.is_empty())
        {
            let shown = || crate::text::clip(part, 60);
            let (currency, sources) = part.split_once(':').ok_or_else(|| {
                format!(
                    "{:?} is not CURRENCY:module/TICKER, e.g. USD:yahoo/VTSAX",
                    shown()
                )
            })?;
            if !super::beancount::is_currency(currency) {
                return Err(format!("{:?}: {currency:?} is not a currency", shown()));
            }
            let alternatives = sources
                .split(',')
                .map(|source| Alternative::parse(source).map_err(|e| format!("{:?}: {e}", shown())))
                .collect::<Result<Vec<_>, _>>()?;
            // `USD:a/X USD:b/X` is one currency with two alternatives, as bean-price reads it.
            match quotes.iter_mut().find(|q| q.currency == currency) {
                Some(quote) => quote.alternatives.extend(alternatives),
                None => quotes.push(QuoteSpec {
                    currency: currency.to_string(),
                    alternatives,
                }),
            }
        }
        Ok(PriceSpec { quotes })
    }
}

impl QuoteSpec {
    /// The first alternative `quotes` can fetch: a source it knows and a ticker that source
    /// can take.
    pub fn first_known(&self) -> Option<&Alternative> {
        self.alternatives.iter().find(|a| a.is_known())
    }

    /// The chain of alternatives to ask, in order: every one `quotes` can fetch that is
    /// inverted as the first is (a price and its inverse are not interchangeable answers of
    /// one chain: `USD:yahoo/X,ecb/^Y` is asked as `yahoo/X` alone).
    pub fn chain(&self) -> Vec<&Alternative> {
        let Some(first) = self.first_known() else {
            return Vec::new();
        };
        self.alternatives
            .iter()
            .filter(|a| a.is_known() && a.inverted == first.inverted)
            .collect()
    }
}

impl Alternative {
    /// Whether `quotes` can fetch it: a source it knows and a ticker that source can take.
    fn is_known(&self) -> bool {
        self.source.is_some() && Ticker::parse(&self.ticker).is_ok()
    }

    fn parse(text: &str) -> Result<Alternative, String> {
        let bad = || {
            format!(
                "{:?} is not module/TICKER, e.g. yahoo/VTSAX",
                crate::text::clip(text, 40)
            )
        };
        let (module, ticker) = text.split_once('/').ok_or_else(bad)?;
        let (ticker, inverted) = match ticker.strip_prefix('^') {
            Some(ticker) => (ticker, true),
            None => (ticker, false),
        };
        // bean-price's own grammar: `[a-zA-Z][a-zA-Z0-9._]+/^?[a-zA-Z0-9:=_\-.()]+`.
        let module_ok = module.len() >= 2
            && module.starts_with(|c: char| c.is_ascii_alphabetic())
            && module
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
        let ticker_ok = !ticker.is_empty()
            && ticker
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":=_-.()".contains(&b));
        if !module_ok || !ticker_ok {
            return Err(bad());
        }
        let name = module.rsplit('.').next().unwrap_or(module);
        let name = MODULE_ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map_or(name, |(_, ours)| *ours);
        Ok(Alternative {
            module: module.to_string(),
            source: SourceSpec::named(name).map(|spec| spec.name),
            ticker: ticker.to_string(),
            inverted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(value: &str) -> Vec<(String, Option<String>)> {
        PriceSpec::parse(value)
            .unwrap()
            .quotes
            .iter()
            .map(|q| {
                let known = q.first_known().map(|a| {
                    let hat = if a.inverted { "^" } else { "" };
                    format!("{}:{hat}{}", a.source.unwrap(), a.ticker)
                });
                (q.currency.clone(), known)
            })
            .collect()
    }

    fn one(currency: &str, known: Option<&str>) -> (String, Option<String>) {
        (currency.to_string(), known.map(str::to_string))
    }

    #[test]
    fn every_currency_and_alternative_in_order() {
        let spec =
            PriceSpec::parse("USD:yahoo/VTSAX,nasdaq/VTSAX EUR:beanprice.yahoo/VTS.DE").unwrap();
        assert_eq!(spec.quotes.len(), 2);
        let usd = &spec.quotes[0];
        assert_eq!(usd.currency, "USD");
        assert_eq!(usd.alternatives.len(), 2);
        assert_eq!(usd.alternatives[1].module, "nasdaq");
        assert_eq!(usd.alternatives[1].source, Some("nasdaq"));
        assert_eq!(usd.alternatives[1].ticker, "VTSAX");
        let chain: Vec<&str> = usd.chain().iter().map(|a| a.source.unwrap()).collect();
        assert_eq!(chain, ["yahoo", "nasdaq"]);
        assert_eq!(
            first("USD:google/X,beanprice.yahoo/Y"),
            [one("USD", Some("yahoo:Y"))]
        );
        assert_eq!(
            first("USD:coinbase/BTC-USD;EUR:coinbase/BTC-EUR"),
            [
                one("USD", Some("coinbase:BTC-USD")),
                one("EUR", Some("coinbase:BTC-EUR"))
            ]
        );
        assert_eq!(
            first("EUR:beanprice.sources.ecbrates/USD-EUR"),
            [one("EUR", Some("ecb:USD-EUR"))]
        );
        // Known source, but a ticker quotes cannot take (Google's exchange prefix): not usable.
        assert_eq!(first("USD:yahoo/NYSE:IBM"), [one("USD", None)]);
        assert_eq!(first("USD:nope/X"), [one("USD", None)]);
    }

    #[test]
    fn a_chain_is_every_known_alternative_inverted_as_the_first() {
        let spec = PriceSpec::parse("USD:google/X,yahoo/Y,ecb/^Z,nasdaq/Y").unwrap();
        let chain: Vec<(&str, bool)> = spec.quotes[0]
            .chain()
            .iter()
            .map(|a| (a.source.unwrap(), a.inverted))
            .collect();
        assert_eq!(chain, [("yahoo", false), ("nasdaq", false)]);
        assert!(
            PriceSpec::parse("USD:google/X").unwrap().quotes[0]
                .chain()
                .is_empty()
        );
    }

    #[test]
    fn a_hat_is_the_inverse() {
        assert_eq!(
            first("EUR:yahoo/^EURUSD=X"),
            [one("EUR", Some("yahoo:^EURUSD=X"))]
        );
        let spec = PriceSpec::parse("EUR:yahoo/^EURUSD=X").unwrap();
        assert_eq!(spec.quotes[0].alternatives[0].ticker, "EURUSD=X");
    }

    #[test]
    fn empty_means_skip_and_nonsense_is_refused() {
        assert_eq!(PriceSpec::parse("").unwrap().quotes, []);
        for bad in [
            "yahoo/X",
            "USD:",
            "USD:yahoo",
            "usd:yahoo/X",
            "USD:yahoo/",
            "USD:yahoo/^",
            "USD:y/X",
            "USD:yahoo/A!B",
            "USD:1yahoo/X",
        ] {
            assert!(PriceSpec::parse(bad).is_err(), "{bad}");
        }
    }
}
