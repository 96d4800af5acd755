//! `jsonl`: one JSON object per line, the same objects as `json`'s elements (failures
//! included), so `--watch` can append rounds to a log.

use super::{FormatSpec, Render, Row, Style, json};

pub static FORMAT: FormatSpec = FormatSpec {
    name: "jsonl",
    about: "One JSON object per line (failures included)",
    appends: Ok(()),
    check: super::always,
    renderer: || Box::new(Lines),
    all_fields: true,
    for_people: false,
};

struct Lines;

impl Render for Lines {
    fn rows(&mut self, rows: &[Row<'_>], style: &Style, out: &mut Vec<u8>) {
        for row in rows {
            out.extend_from_slice(json::object(row, style).as_bytes());
            out.push(b'\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::test_rows::{ok, quote, render};

    #[test]
    fn one_object_per_line() {
        let (a, b) = (quote("1", Some("USD")), quote("2", Some("EUR")));
        let out = render(&FORMAT, &[ok("A", &a), ok("B", &b)], &Style::default());
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["symbol"], "B");
        assert!(
            out.lines().nth(1).unwrap().contains(r#""price":2.00,"#),
            "{out}"
        );
    }
}
