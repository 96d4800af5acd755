//! Yahoo's cookie and crumb (issue 19), for when its chart API asks for them.
//!
//! The chart API needs neither today. Its other APIs (and the chart API, at times since
//! 2023) answer a request without them `401 {"finance":{"error":{"code":"Unauthorized",
//! "description":"Invalid Crumb"}}}` (or "Invalid Cookie"). The remedy every client uses: a
//! cookie from `https://fc.yahoo.com` (its `Set-Cookie`, whatever the status), then with that
//! cookie `GET /v1/test/getcrumb` on the API's own origin, whose body is the bare crumb
//! (`haT3oykhHqZ`), then every request with the cookie and `&crumb=`. The fetcher does the
//! requests and holds the session (`session`); this module says when one is asked for
//! ([`wanted`]) and what a crumb is ([`read`]).

use serde::Deserialize;

use super::SPEC;
use crate::error::FetchError;
use crate::source::Answer;
use crate::text::excerpt;

/// The longest crumb taken (Yahoo's are 11 characters).
const MAX_CRUMB: usize = 64;

/// `{"finance":{"error":{"code":…,"description":…}}}`: the error body of Yahoo's newer APIs.
#[derive(Deserialize)]
struct Finance {
    finance: FinanceBody,
}

#[derive(Deserialize)]
struct FinanceBody {
    #[serde(default)]
    error: Option<FinanceError>,
}

#[derive(Deserialize)]
pub struct FinanceError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// The `finance.error` of an answer, if it is such a body.
pub fn finance_error(body: &[u8]) -> Option<FinanceError> {
    serde_json::from_slice::<Finance>(body).ok()?.finance.error
}

/// Whether an answer asks for a cookie and crumb: a 401 whose `finance.error` says the crumb
/// or the cookie is missing or wrong ("Invalid Crumb", "Invalid Cookie"). Any other 401 is an
/// error like any other, not a reason to fetch a crumb.
pub fn wanted(answer: &Answer) -> bool {
    if answer.status != 401 {
        return false;
    }
    finance_error(&answer.body)
        .and_then(|e| e.description)
        .is_some_and(|d| {
            let d = d.to_ascii_lowercase();
            d.contains("crumb") || d.contains("cookie")
        })
}

/// The crumb in an answer to `/v1/test/getcrumb`: the whole body, trimmed, 1 to 64 letters,
/// digits and `. / _ - ~ + =`. A 429 (`Edge: Too Many Requests`) is rate limited; an HTML
/// page (a consent page), an error status or any other text is not a crumb, and never sent as
/// one.
pub fn read(answer: &Answer) -> Result<String, FetchError> {
    match answer.status {
        200 => {}
        429 => {
            return Err(FetchError::RateLimited {
                api: SPEC.display_name,
                retry_after: None,
            });
        }
        status => return Err(SPEC.http_error(status, excerpt(&answer.body))),
    }
    SPEC.refuse_html(answer, "a crumb")?;
    let crumb = std::str::from_utf8(&answer.body).unwrap_or("").trim();
    let crumb_like = (1..=MAX_CRUMB).contains(&crumb.len())
        && crumb
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"./_-~+=".contains(&b));
    if !crumb_like {
        return Err(SPEC.malformed(format!(
            "the crumb request answered {:?}, which is not a crumb",
            excerpt(&answer.body)
        )));
    }
    Ok(crumb.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &[u8]) -> Answer {
        Answer {
            status,
            body: body.to_vec(),
        }
    }

    const INVALID_CRUMB: &[u8] =
        include_bytes!("../../../tests/fixtures/yahoo_error_401_invalid_crumb_2023-04-19.json");
    const INVALID_CRUMB_DEVLINK: &[u8] = include_bytes!(
        "../../../tests/fixtures/yahoo_error_401_invalid_crumb_devlink_2024-01.json"
    );
    const CRUMB: &[u8] =
        include_bytes!("../../../tests/fixtures/yahoo_getcrumb_body_2025-02-16.txt");
    const TOO_MANY: &[u8] = include_bytes!(
        "../../../tests/fixtures/yahoo_429_getcrumb_body_edge_too_many_requests_fragment.txt"
    );

    #[test]
    fn a_401_about_the_crumb_or_cookie_asks_for_one() {
        assert!(wanted(&answer(401, INVALID_CRUMB)));
        assert!(wanted(&answer(401, INVALID_CRUMB_DEVLINK)));
        assert!(wanted(&answer(
            401,
            br#"{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Cookie"}}}"#
        )));
        // Another status, another 401, or no such body: not asked.
        assert!(!wanted(&answer(200, INVALID_CRUMB)));
        assert!(!wanted(&answer(
            401,
            br#"{"finance":{"error":{"code":"Unauthorized","description":"User is unable to access this feature"}}}"#
        )));
        assert!(!wanted(&answer(401, b"Unauthorized")));
        assert!(!wanted(&answer(401, b"")));
    }

    #[test]
    fn a_crumb_is_the_bare_body_and_nothing_else() {
        assert_eq!(read(&answer(200, CRUMB)).unwrap(), "haT3oykhHqZ");
        assert_eq!(
            read(&answer(200, b"Xpr8/Z7B.n4W\n")).unwrap(),
            "Xpr8/Z7B.n4W"
        );
        assert_eq!(
            read(&answer(429, TOO_MANY)).unwrap_err().kind(),
            "rate_limited"
        );
        for (status, body) in [
            (200, TOO_MANY),
            (200, &b"Too Many Requests"[..]),
            (200, b"<html><body>consent</body></html>"),
            (200, b""),
            (200, INVALID_CRUMB),
            (200, b"crumb\x1b[2J"),
            (200, "x".repeat(65).as_bytes()),
        ] {
            let err = read(&answer(status, body)).unwrap_err();
            assert_eq!(
                err.kind(),
                "malformed_response",
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            read(&answer(401, INVALID_CRUMB)).unwrap_err().kind(),
            "http_status"
        );
    }
}
