//! Delimited formats for scripts: `tsv` (tabs, no header, no padding) and `csv`
//! (RFC 4180, header row naming the fields). Failed tickers have no row; their message
//! goes to stderr and the exit status says something failed.

use std::io::{self, Write};

use super::{Row, Style};

pub fn write_tsv(rows: &[Row], style: &Style, out: &mut impl Write) -> io::Result<()> {
    for quote in rows.iter().filter_map(|r| r.result.as_ref().ok()) {
        let cells: Vec<String> = style
            .fields
            .iter()
            // A tab or newline inside a value (a company name) would shift columns.
            .map(|f| {
                f.value(quote, style)
                    .unwrap_or_default()
                    .replace(['\t', '\n', '\r'], " ")
            })
            .collect();
        writeln!(out, "{}", cells.join("\t"))?;
    }
    Ok(())
}

/// `style.header` is false for `--watch` rounds after the first, so a log has one header.
pub fn write_csv(rows: &[Row], style: &Style, out: &mut impl Write) -> io::Result<()> {
    if style.header {
        let names: Vec<String> = style.fields.iter().map(|f| csv_cell(f.name())).collect();
        write!(out, "{}\r\n", names.join(","))?;
    }
    for quote in rows.iter().filter_map(|r| r.result.as_ref().ok()) {
        let cells: Vec<String> = style
            .fields
            .iter()
            .map(|f| csv_cell(&f.value(quote, style).unwrap_or_default()))
            .collect();
        write!(out, "{}\r\n", cells.join(","))?;
    }
    Ok(())
}

/// RFC 4180: quote a cell holding a comma, quote or line break; double inner quotes.
fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Field;
    use crate::output::test_rows::{ok, quote};

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("Apple, Inc."), "\"Apple, Inc.\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn tsv_has_no_padding_and_no_header() {
        let mut q = quote("AAPL", "220.003", Some("USD"));
        q.name = Some("Apple\tInc.".into());
        let style = Style {
            fields: vec![Field::Symbol, Field::Price, Field::Name],
            ..Style::default()
        };
        let mut out = Vec::new();
        write_tsv(&[ok(q)], &style, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "AAPL\t220.00\tApple Inc.\n"
        );
    }
}
