//! API keys (issue 19): read from the environment once, sent only on the wire, never shown.
//!
//! A key comes from the variable its source declares (`SourceSpec::key`, e.g.
//! `TIINGO_API_KEY`), never from a flag: a command line is visible to every user of the
//! machine (`ps`). It is held as a [`Secret`], whose `Debug` shows `…`, and handed out only
//! to build the request that goes on the wire (`fetch`); the URLs sources build, the cache's
//! keys and every message are made without it, and `-v` writes `token=…` in its place.
//! As a last guard, each key read is registered with `text`, which replaces it wherever it
//! would still appear in a message (a server that echoes it back in an error).

use crate::source::{REGISTRY, SourceSpec};

/// A key's value. Never printed: `Debug` shows `…`, and there is no `Display`.
#[derive(Clone)]
pub struct Secret(Box<str>);

impl Secret {
    /// The value, for the request on the wire and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The keys of a run, by source name.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    keys: Vec<(&'static str, Secret)>,
}

impl Keys {
    /// Read every registered source's key from its environment variable. Unset, empty or
    /// not Unicode is no key. Each key read is also registered with `text` to be redacted.
    pub fn from_env() -> Keys {
        Keys::read(|name| std::env::var(name).ok())
    }

    /// [`Keys::from_env`] with the environment given.
    pub fn read(mut var: impl FnMut(&str) -> Option<String>) -> Keys {
        let keys = REGISTRY
            .iter()
            .filter_map(|spec: &&SourceSpec| {
                let value = var(spec.key.as_ref()?.env)?;
                let value = value.trim();
                if value.is_empty() {
                    return None;
                }
                crate::text::redact_everywhere(value);
                Some((spec.name, Secret(value.into())))
            })
            .collect();
        Keys { keys }
    }

    /// The key of the source called `name`, if it was set.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.keys.iter().find(|(n, _)| *n == name).map(|(_, k)| k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_their_variables_and_never_show() {
        let keyed: Vec<&SourceSpec> = REGISTRY
            .iter()
            .copied()
            .filter(|s| s.key.is_some())
            .collect();
        let Some(spec) = keyed.first() else {
            return; // no keyed source registered: nothing to read
        };
        let env = spec.key.as_ref().unwrap().env;
        let keys = Keys::read(|name| (name == env).then(|| " fake-key-123456 ".to_string()));
        let key = keys.get(spec.name).unwrap();
        assert_eq!(key.expose(), "fake-key-123456");
        assert_eq!(format!("{keys:?}").matches("fake-key").count(), 0);
        let empty = Keys::read(|_| Some("  ".to_string()));
        assert!(empty.get(spec.name).is_none());
    }
}
