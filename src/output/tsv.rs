//! `tsv`: tab-separated fields for scripts, no header, no padding. Failed tickers have no
//! row; their message goes to stderr and the exit status says something failed.

use super::{FormatSpec, Render, Row, Style};

pub static FORMAT: FormatSpec = FormatSpec {
    name: "tsv",
    about: "Tab-separated fields, no header",
    appends: Ok(()),
    check: super::always,
    renderer: || Box::new(Tsv),
    all_fields: false,
    for_people: false,
};

struct Tsv;

impl Render for Tsv {
    fn rows(&mut self, rows: &[Row<'_>], style: &Style, out: &mut Vec<u8>) {
        let mut line = String::new();
        for row in rows {
            let Ok(quote) = row.result else { continue };
            line.clear();
            for (i, field) in style.fields.iter().enumerate() {
                if i > 0 {
                    line.push('\t');
                }
                let start = line.len();
                field.push(&mut line, row, quote, style);
                // A tab or newline inside a value (a company name) would shift columns.
                if line[start..].contains(['\t', '\n', '\r']) {
                    let cell = line.split_off(start).replace(['\t', '\n', '\r'], " ");
                    line.push_str(&cell);
                }
            }
            line.push('\n');
            out.extend_from_slice(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Field;
    use crate::output::test_rows::{ok, quote, render};

    #[test]
    fn no_padding_and_no_header() {
        let mut q = quote("220.003", Some("USD"));
        q.name = Some("Apple\tInc.".into());
        let style = Style {
            fields: vec![Field::Symbol, Field::Price, Field::Name],
            ..Style::default()
        };
        assert_eq!(
            render(&FORMAT, &[ok("AAPL", &q)], &style),
            "AAPL\t220.00\tApple Inc.\n"
        );
    }
}
