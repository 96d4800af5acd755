//! `csv`: RFC 4180 with a header row naming the fields, written by the `csv` crate (quoting
//! a cell with a comma, quote or line break; CRLF line ends). The header is written once per
//! stream, so `--watch` rounds appended to one log carry one header. Failed tickers have no
//! row; their message goes to stderr.

use super::{FormatSpec, Render, Row, Style};

pub static FORMAT: FormatSpec = FormatSpec {
    name: "csv",
    about: "RFC 4180 CSV with a header row",
    appends: Ok(()),
    check: super::always,
    renderer: || {
        Box::new(Csv {
            header_written: false,
        })
    },
    all_fields: false,
    for_people: false,
};

struct Csv {
    header_written: bool,
}

impl Render for Csv {
    fn rows(&mut self, rows: &[Row<'_>], style: &Style, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = self.records(rows, style, out);
    }

    /// A round without a row still has its header (once per stream).
    fn end(&mut self, style: &Style, out: &mut Vec<u8>) -> std::io::Result<bool> {
        let _ = self.records(&[], style, out);
        Ok(true)
    }
}

impl Csv {
    fn records(&mut self, rows: &[Row<'_>], style: &Style, out: &mut Vec<u8>) -> csv::Result<()> {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(out);
        if !self.header_written {
            writer.write_record(style.fields.iter().map(|f| f.name()))?;
            self.header_written = true;
        }
        for row in rows {
            let Ok(quote) = row.result else { continue };
            writer.write_record(
                style
                    .fields
                    .iter()
                    .map(|f| f.value(row, quote, style).unwrap_or_default()),
            )?;
        }
        writer.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::Field;
    use crate::output::test_rows::{ok, quote};

    #[test]
    fn quotes_what_needs_it_and_writes_the_header_once() {
        let mut q = quote("1", Some("USD"));
        q.name = Some("Apple, \"Inc.\"".into());
        let style = Style {
            fields: vec![Field::Symbol, Field::Name],
            ..Style::default()
        };
        let mut csv = (FORMAT.renderer)();
        let mut out = Vec::new();
        csv.write(&[ok("AAPL", &q)], &style, &mut out).unwrap();
        csv.write(&[ok("AAPL", &q)], &style, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "symbol,name\r\nAAPL,\"Apple, \"\"Inc.\"\"\"\r\nAAPL,\"Apple, \"\"Inc.\"\"\"\r\n"
        );
    }
}
