//! Whatever a server sends, every format renders it safely (issue 12): arbitrary bytes are
//! read as a Yahoo chart answer, and a price that comes out is rendered in every format with
//! every field. Nothing may panic, and no control, format, bidi or separator character may
//! reach the output raw (line ends, tsv's tabs and the table's colour escapes are the
//! formats' own).
#![no_main]

use libfuzzer_sys::fuzz_target;
use quotes::output::{FORMATS, Row, Style, fields::ALL, render};
use quotes::source::Answer;
use quotes::source::yahoo::latest;

mod common;

fuzz_target!(|body: &[u8]| {
    let answer = Answer {
        status: 200,
        body: body.to_vec(),
    };
    let Ok(quote) = latest::parse(&answer, &common::symbol_in(body)) else {
        return;
    };
    let style = Style {
        precision: None,
        fields: ALL.to_vec(),
        color: true,
    };
    for format in FORMATS {
        let row = Row {
            input: "X",
            label: "X",
            source: Some("yahoo"),
            result: Ok(&quote),
            commodity: "X",
            adjust: None,
        };
        let rendered = render(format, &mut *(format.renderer)(), vec![row], &style);
        let out = String::from_utf8(rendered.stdout).expect("UTF-8 output");
        // The table's colours are the only ESC; line ends and tsv's tabs the only others.
        let plain = out
            .replace("\u{1b}[32m", "")
            .replace("\u{1b}[31m", "")
            .replace("\u{1b}[0m", "");
        for c in plain.chars() {
            assert!(
                matches!(c, '\n' | '\r' | '\t') || quotes::text::is_safe(c),
                "{}: U+{:04X}",
                format.name,
                c as u32
            );
        }
        // One row at most (a csv header and json's brackets besides): no forged row.
        let extra = match format.name {
            "csv" => 1,
            "json" => 2,
            _ => 0,
        };
        assert!(
            plain.matches('\n').count() <= 1 + extra,
            "{}: {plain:?}",
            format.name
        );
    }
});
