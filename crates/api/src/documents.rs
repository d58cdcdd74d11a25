//! Where one document of a multi-document YAML text ends and the next begins, found without
//! parsing: what lets the `dir:` source parse again only the documents of a file that changed.
//!
//! YAML forbids a line that starts with `---` (or `...`) followed by a space, a tab or the
//! end of the line anywhere inside a document, in every kind of scalar (the spec's
//! `c-forbidden`): such a line always marks a document boundary. Splitting at those lines
//! therefore cuts the text exactly where the parser does. Two things are left whole rather
//! than reasoned about: texts with directives (`%YAML`, `%TAG`, which apply to the document
//! after them) and texts with document end markers (`...`). A splitter that is wrong costs
//! nothing but speed: a piece that does not load alone makes the caller load the whole text,
//! for the exact error.

/// The pieces of `text`, each one or more whole documents (a piece keeps its own `---` line),
/// in order; concatenated, they are `text` again. A text that is not split is one piece.
pub fn split(text: &str) -> Vec<&str> {
    if text.starts_with('\u{feff}') || lines(text).any(|(_, line)| line.starts_with('%') || is_marker(line, "...")) {
        return vec![text];
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    for (at, line) in lines(text) {
        if at > start && is_marker(line, "---") {
            pieces.push(&text[start..at]);
            start = at;
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// Each line of `text` with the byte offset it starts at (the line without its `\n`).
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut at = 0;
    text.split_inclusive('\n').map(move |line| {
        let start = at;
        at += line.len();
        (start, line.trim_end_matches('\n'))
    })
}

/// `line` is the marker (`---` or `...`) alone, or followed by white space and more.
fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker).is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
}

/// What [`Reader::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A document (the caller's buffer holds it).
    Document,
    /// The input is read to its end.
    End,
    /// The text is one of those [`split`] keeps whole (directives, end markers, a byte order
    /// mark): the caller reads it whole instead.
    Whole,
}

/// [`split`] while reading: the documents of a file one at a time, cut where `split` cuts
/// them, so that a file of 100,000 documents is never held in memory whole (only the
/// document at hand is).
#[derive(Debug)]
pub struct Reader<R> {
    input: R,
    /// The marker line read last, which begins the next document.
    pending: String,
    /// Whether a document was given yet: `split` gives one piece even of an empty text.
    given: bool,
    done: bool,
}

impl<R: std::io::BufRead> Reader<R> {
    pub fn new(input: R) -> Self {
        Self { input, pending: String::new(), given: false, done: false }
    }

    /// The next document, into `doc` (cleared first). An input that is not UTF-8 is an
    /// error, as for `fs::read_to_string`.
    pub fn next(&mut self, doc: &mut String) -> std::io::Result<Next> {
        doc.clear();
        if self.done {
            return Ok(Next::End);
        }
        doc.push_str(&self.pending);
        loop {
            self.pending.clear();
            if self.input.read_line(&mut self.pending)? == 0 {
                self.done = true;
                if doc.is_empty() && self.given {
                    return Ok(Next::End);
                }
                self.given = true;
                return Ok(Next::Document);
            }
            if !self.given && doc.is_empty() && self.pending.starts_with('\u{feff}') {
                return Ok(Next::Whole);
            }
            let line = self.pending.trim_end_matches('\n');
            if line.starts_with('%') || is_marker(line, "...") {
                return Ok(Next::Whole);
            }
            if !doc.is_empty() && is_marker(line, "---") {
                self.given = true;
                return Ok(Next::Document);
            }
            doc.push_str(&self.pending);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn documents_are_cut_at_their_start_markers() {
        let text = "a: 1\n---\nb: 2\n--- # a comment\nc: 3\n---\t{d: 4}\n";
        assert_eq!(split(text), vec!["a: 1\n", "---\nb: 2\n", "--- # a comment\nc: 3\n", "---\t{d: 4}\n"]);
        assert_eq!(split("---\na: 1\n---\n"), vec!["---\na: 1\n", "---\n"]);
        assert_eq!(split(""), vec![""]);
    }

    #[test]
    fn lines_that_only_begin_like_a_marker_are_content() {
        let text = "a: |\n  ---\n  x\nb: ----\n---x: 1\n ---\n";
        assert_eq!(split(text), vec![text]);
    }

    #[test]
    fn directives_end_markers_and_byte_order_marks_keep_the_text_whole() {
        for text in ["%YAML 1.2\n---\na: 1\n---\nb: 2\n", "a: 1\n...\n---\nb: 2\n", "\u{feff}a: 1\n---\nb: 2\n"] {
            assert_eq!(split(text), vec![text]);
        }
    }

    #[test]
    fn crlf_texts_are_split_too() {
        assert_eq!(split("a: 1\r\n---\r\nb: 2\r\n"), vec!["a: 1\r\n", "---\r\nb: 2\r\n"]);
    }

    /// A document of the kinds of content that hold marker-like text: block and quoted
    /// scalars, flow collections, comments.
    fn document() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            "[a-z0-9 ]{0,8}".prop_map(|s| format!("x{s}")),
            "[a-z -]{0,8}".prop_map(|s| format!("|\n  {s}\n  ---\n")),
            "[a-z ]{0,8}".prop_map(|s| format!("\"{s} --- {s}\"")),
            Just("[---, '...']".to_owned()),
        ];
        proptest::collection::vec(("[a-z]{1,6}", value), 0..4)
            .prop_map(|entries| entries.iter().enumerate().map(|(i, (k, v))| format!("{k}{i}: {v}\n")).collect())
    }

    proptest! {
        /// The pieces put together are the text, and parsing them one by one gives the
        /// documents the parser finds in the whole text, in order.
        #[test]
        fn pieces_parse_to_the_documents_of_the_whole(docs in proptest::collection::vec(document(), 0..6), lead in any::<bool>()) {
            let mut text = String::new();
            for (i, doc) in docs.iter().enumerate() {
                if i > 0 || lead {
                    text.push_str("---\n");
                }
                text.push_str(doc);
            }
            let pieces = split(&text);
            prop_assert_eq!(pieces.concat(), text.clone());
            let whole: Result<Vec<serde_json::Value>, _> = serde_saphyr::from_multiple(&text);
            let mut parts = Vec::new();
            for piece in &pieces {
                let part: Result<Vec<serde_json::Value>, _> = serde_saphyr::from_multiple(piece);
                match part {
                    Ok(values) => parts.extend(values),
                    Err(e) => { prop_assert!(whole.is_err(), "piece {:?} fails alone ({}) but the whole text parses", piece, e); return Ok(()); }
                }
            }
            if let Ok(whole) = whole {
                prop_assert_eq!(whole, parts);
            }
        }

        /// Reading cuts where splitting cuts, or says the text is one to keep whole.
        #[test]
        fn reading_cuts_as_splitting_does(text in "(---|\\.\\.\\.|%|\u{feff}|\n|\r|\t| |a|-|:)*") {
            let mut reader = Reader::new(text.as_bytes());
            let (mut doc, mut docs) = (String::new(), Vec::new());
            loop {
                match reader.next(&mut doc).unwrap() {
                    Next::Document => docs.push(doc.clone()),
                    Next::End => break,
                    Next::Whole => {
                        prop_assert_eq!(split(&text), vec![text.as_str()]);
                        return Ok(());
                    }
                }
            }
            prop_assert_eq!(docs, split(&text));
        }

        /// Any text at all: never a panic, and nothing lost or added.
        #[test]
        fn any_text_splits_into_itself(text in "(---|\\.\\.\\.|%|\n|\r|\t| |a|-|:)*") {
            prop_assert_eq!(split(&text).concat(), text);
        }
    }
}
