//! `why`'s text: a paragraph per Service, or with `--all` one line each. Nodes that do not
//! announce for the same reason share a line, so a large cluster's answer stays readable.

use std::fmt::Write as _;

use ferrolb_announce::Protocol;

use super::explain::{Answer, Line, Verdict};

/// At most this many node names per shared line; the rest are counted.
const NAMES_PER_LINE: usize = 8;

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }

    fn verdict(&self, verdict: Verdict) -> String {
        let code = match verdict {
            Verdict::Announced => "32",
            Verdict::Partly => "33",
            Verdict::NotAnnounced => "31",
        };
        self.wrap(code, verdict.as_str())
    }
}

fn protocol(p: Protocol) -> &'static str {
    match p {
        Protocol::Bgp => "bgp",
        Protocol::Layer2 => "layer2",
    }
}

fn configuration(answer: &Answer, paint: &Paint, out: &mut String) {
    for line in &answer.configuration {
        let _ = writeln!(out, "{} {line}", paint.wrap("31", "configuration:"));
    }
}

fn notes(answer: &Answer, out: &mut String) {
    for note in &answer.notes {
        let _ = writeln!(out, "note: {note}");
    }
}

pub fn text(answer: &Answer, colour: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    configuration(answer, &paint, &mut out);
    if answer.services.is_empty() {
        out.push_str("no Service of type LoadBalancer\n");
    }
    for service in &answer.services {
        let addresses =
            if service.addresses.is_empty() { "no address".to_owned() } else { service.addresses.join(", ") };
        let pool = service.pool.as_deref().map(|p| format!(" from pool {p}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{}/{}: {} ({addresses}{pool})",
            service.namespace,
            service.name,
            paint.verdict(service.verdict)
        );
        for problem in &service.problems {
            let _ = writeln!(out, "  {} {problem}", paint.wrap("31", "!"));
        }
        for line in &service.announcing {
            let _ = writeln!(out, "  {} {}: {}", protocol(line.protocol), line.node, line.text);
        }
        for (protocol_name, nodes, text) in grouped(&service.not_announcing) {
            let _ = writeln!(out, "  {protocol_name} {nodes}: {}", paint.wrap("2", &text));
        }
    }
    notes(answer, &mut out);
    out
}

/// Lines with the same protocol and text, their nodes joined (the first few named).
fn grouped(lines: &[Line]) -> Vec<(&'static str, String, String)> {
    let mut groups: Vec<(Protocol, &str, Vec<&str>)> = Vec::new();
    for line in lines {
        match groups.iter_mut().find(|(p, t, _)| *p == line.protocol && *t == line.text) {
            Some((_, _, nodes)) => nodes.push(&line.node),
            None => groups.push((line.protocol, &line.text, vec![&line.node])),
        }
    }
    groups
        .into_iter()
        .map(|(p, text, nodes)| {
            let mut names = nodes.iter().take(NAMES_PER_LINE).copied().collect::<Vec<_>>().join(", ");
            if nodes.len() > NAMES_PER_LINE {
                let _ = write!(names, " and {} more", nodes.len() - NAMES_PER_LINE);
            }
            (protocol(p), names, text.to_owned())
        })
        .collect()
}

/// `--all`: one line per Service and a count of each verdict.
pub fn table(answer: &Answer, colour: bool) -> String {
    let paint = Paint(colour);
    let mut out = String::new();
    configuration(answer, &paint, &mut out);
    let rows: Vec<[String; 4]> = answer
        .services
        .iter()
        .map(|s| {
            let about = |l: &Line| format!("{} {}: {}", protocol(l.protocol), l.node, l.text);
            let detail = s
                .problems
                .first()
                .cloned()
                .or_else(|| s.not_announcing.iter().find(|l| l.planned).map(about))
                .or_else(|| (s.verdict != Verdict::Announced).then(|| s.not_announcing.first().map(about)).flatten())
                .unwrap_or_else(|| {
                    let mut by: Vec<String> =
                        s.announcing.iter().map(|l| format!("{} {}", protocol(l.protocol), l.node)).collect();
                    by.dedup();
                    if by.is_empty() { String::new() } else { format!("by {}", by.join(", ")) }
                });
            let addresses = if s.addresses.is_empty() { "-".to_owned() } else { s.addresses.join(",") };
            [format!("{}/{}", s.namespace, s.name), addresses, s.verdict.as_str().to_owned(), detail]
        })
        .collect();
    let width =
        |i: usize, title: &str| rows.iter().map(|r| r[i].chars().count()).chain([title.len()]).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0, "SERVICE"), width(1, "ADDRESSES"), width(2, "STATUS"));
    let _ = writeln!(out, "{:w0$}  {:w1$}  {:w2$}  DETAIL", "SERVICE", "ADDRESSES", "STATUS");
    for (row, service) in rows.iter().zip(&answer.services) {
        let status = format!("{:w2$}", row[2]);
        let status = if colour { status.replace(&row[2], &paint.verdict(service.verdict)) } else { status };
        let _ = writeln!(out, "{:w0$}  {:w1$}  {status}  {}", row[0], row[1], row[3]);
    }
    let count = |v: Verdict| answer.services.iter().filter(|s| s.verdict == v).count();
    let _ = writeln!(
        out,
        "{} Services: {} announced, {} partly, {} not announced",
        answer.services.len(),
        count(Verdict::Announced),
        count(Verdict::Partly),
        count(Verdict::NotAnnounced)
    );
    notes(answer, &mut out);
    out
}
