//! Where a round's turns go when they are output: a stream of rows to stdout as they come
//! ([`ToStdout`]), or a whole round rendered at once ([`Buffered`], `--watch`).

use std::collections::VecDeque;
use std::time::Duration;

use super::Sink;
use crate::output::{Chunk, FormatSpec, Render, Rendered, Stream, Style, Writer, Written};
use crate::plan::{Plan, Turn};

/// The rows of a round, rendered as each input's turn comes and written to stdout through
/// the output thread; the error lines after the data, at the end.
pub struct ToStdout<'a> {
    stream: Stream<'a>,
    /// What goes out before `stream.stdout`: data and warnings, in order.
    queue: VecDeque<Chunk>,
    /// Bytes in `queue`.
    queued: usize,
    writer: Writer,
    max_age: Option<Duration>,
}

impl<'a> ToStdout<'a> {
    pub fn new(
        format: &'a FormatSpec,
        renderer: &'a mut dyn Render,
        style: &'a Style,
        max_age: Option<Duration>,
    ) -> ToStdout<'a> {
        ToStdout {
            stream: Stream::new(format, renderer, style),
            queue: VecDeque::new(),
            queued: 0,
            writer: Writer::start(),
            max_age,
        }
    }

    /// Whether a ticker failed so far.
    pub fn failed(&self) -> bool {
        self.stream.failed()
    }

    /// The end of the round: what the format held back, a part at a time (the table of a
    /// long history is many MB), then the error lines; how writing stdout went once
    /// everything is written.
    pub async fn finish(self) -> Written {
        let ToStdout {
            mut stream,
            queue,
            writer,
            ..
        } = self;
        let sent = async {
            for chunk in queue {
                writer.sender().send(chunk).await.ok()?;
            }
            loop {
                let done = stream.end_part();
                let part = std::mem::take(&mut stream.stdout);
                if !part.is_empty() {
                    writer.sender().send(Chunk::Stdout(part)).await.ok()?;
                }
                if done {
                    break;
                }
            }
            let rendered = stream.end();
            writer
                .sender()
                .send(Chunk::Stderr(rendered.stderr))
                .await
                .ok()
        };
        // The output thread is gone (it says why): nothing more can be written.
        let _ = sent.await;
        writer.finish().await
    }
}

impl Sink for ToStdout<'_> {
    fn turn(&mut self, plan: &Plan, turn: Turn<'_>) {
        let rows = plan.rows(turn, self.max_age, now());
        self.stream.rows(rows);
    }

    fn warn(&mut self, text: String) {
        if !self.stream.stdout.is_empty() {
            let data = std::mem::take(&mut self.stream.stdout);
            self.queued += data.len();
            self.queue.push_back(Chunk::Stdout(data));
        }
        self.queued += text.len();
        self.queue.push_back(Chunk::Stderr(text.into_bytes()));
    }

    fn pending(&self) -> usize {
        self.queued + self.stream.stdout.len()
    }

    async fn flush(&mut self) {
        // The slot first: dropped while waiting for it, nothing was taken.
        let Ok(slot) = self.writer.sender().reserve().await else {
            // No output thread: nothing can be written, so nothing is held either.
            self.queue.clear();
            self.queued = 0;
            self.stream.stdout.clear();
            return;
        };
        let chunk = match self.queue.pop_front() {
            Some(chunk) => {
                self.queued -= match &chunk {
                    Chunk::Stdout(bytes) | Chunk::Stderr(bytes) => bytes.len(),
                };
                chunk
            }
            None => Chunk::Stdout(std::mem::take(&mut self.stream.stdout)),
        };
        slot.send(chunk);
    }
}

/// A whole round rendered at once (a `--watch` round, redrawn in place as a block).
pub struct Buffered<'a> {
    stream: Stream<'a>,
    /// Warnings, written before the round.
    warnings: String,
    max_age: Option<Duration>,
}

impl<'a> Buffered<'a> {
    pub fn new(
        format: &'a FormatSpec,
        renderer: &'a mut dyn Render,
        style: &'a Style,
        max_age: Option<Duration>,
    ) -> Buffered<'a> {
        Buffered {
            stream: Stream::new(format, renderer, style),
            warnings: String::new(),
            max_age,
        }
    }

    /// The round, rendered; its warnings are written to stderr now.
    pub fn end(self) -> Rendered {
        if !self.warnings.is_empty() {
            crate::output::write_stderr(self.warnings.as_bytes());
        }
        self.stream.end()
    }
}

impl Sink for Buffered<'_> {
    fn turn(&mut self, plan: &Plan, turn: Turn<'_>) {
        let rows = plan.rows(turn, self.max_age, now());
        self.stream.rows(rows);
    }

    fn warn(&mut self, text: String) {
        self.warnings.push_str(&text);
    }
}

/// Now, Unix seconds: a price's age (`--max-age`) is told when its row is made.
fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}
