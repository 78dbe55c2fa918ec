//! Line numbers for field paths: the TOML text parsed with its spans, so that a message about
//! `sites[1].battery.soc_min` can name the line it is on, and a serde error at an offset can
//! name the path it is about.

use crate::error::InputError;

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                out.push(Seg::Key(rest[..b].to_string()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(e) = stripped.find(']') else { break };
                if let Ok(i) = stripped[..e].parse() {
                    out.push(Seg::Index(i));
                }
                rest = &stripped[e + 1..];
            }
        } else if !rest.is_empty() {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Node<'a> {
    Table(&'a toml_edit::Table),
    Inline(&'a toml_edit::InlineTable),
    Aot(&'a toml_edit::ArrayOfTables),
    Array(&'a toml_edit::Array),
    Leaf,
}

impl<'a> Node<'a> {
    fn of_item(i: &'a toml_edit::Item) -> (Node<'a>, Option<usize>) {
        match i {
            toml_edit::Item::Table(t) => (Node::Table(t), t.span().map(|s| s.start)),
            toml_edit::Item::ArrayOfTables(a) => (Node::Aot(a), a.span().map(|s| s.start)),
            toml_edit::Item::Value(v) => Node::of_value(v),
            toml_edit::Item::None => (Node::Leaf, None),
        }
    }
    fn of_value(v: &'a toml_edit::Value) -> (Node<'a>, Option<usize>) {
        let at = v.span().map(|s| s.start);
        match v {
            toml_edit::Value::InlineTable(t) => (Node::Inline(t), at),
            toml_edit::Value::Array(a) => (Node::Array(a), at),
            _ => (Node::Leaf, at),
        }
    }
}

/// Maps field paths such as `sites[1].battery.soc_min` to lines of the TOML text.
pub(super) struct Locator {
    /// The parsed document with its spans: parsed when the locator is made (the syntax
    /// check), released while the file is read into its schema (it is the largest thing held:
    /// ~20 times the text), parsed again only if a message needs a line.
    doc: std::cell::OnceCell<toml_edit::ImDocument<String>>,
    line_starts: Vec<usize>,
    text: String,
    file: String,
}

impl Locator {
    /// The document, parsed again if it was released (it parsed once: it parses again).
    pub(super) fn doc(&self) -> &toml_edit::ImDocument<String> {
        self.doc.get_or_init(|| {
            toml_edit::ImDocument::parse(self.text.clone()).expect("the text parsed before")
        })
    }

    /// Drop the parsed document until a message needs it.
    pub(super) fn release(&mut self) {
        self.doc = std::cell::OnceCell::new();
    }

    pub(super) fn new(text: &str, file: &str) -> Result<Self, InputError> {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let me = Locator {
            doc: std::cell::OnceCell::new(),
            line_starts,
            text: text.to_string(),
            file: file.to_string(),
        };
        match toml_edit::ImDocument::parse(text.to_string()) {
            Ok(doc) => {
                let _ = me.doc.set(doc);
                Ok(me)
            }
            Err(e) => {
                let (line, col) = e.span().map_or((None, None), |s| {
                    let (l, c) = me.line_col(s.start);
                    (Some(l), Some(c))
                });
                Err(InputError::syntax(
                    file,
                    line,
                    col,
                    format!("not valid TOML: {}", e.message().trim()),
                ))
            }
        }
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let l = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[l - 1];
        let col = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(1, |s| s.chars().count() + 1);
        (l, col)
    }

    /// The line of the deepest part of `path` that exists in the document.
    pub(super) fn line(&self, path: &str) -> Option<usize> {
        let mut node = Node::Table(self.doc().as_table());
        let mut best: Option<usize> = None;
        for seg in parse_path(path) {
            let (next, at, key_at) = match (node, &seg) {
                (Node::Table(t), Seg::Key(k)) => match t.get(k) {
                    Some(i) => {
                        let (n, at) = Node::of_item(i);
                        (n, at, t.key(k).and_then(|k| k.span()).map(|s| s.start))
                    }
                    None => break,
                },
                (Node::Inline(t), Seg::Key(k)) => match t.get(k) {
                    Some(v) => {
                        let (n, at) = Node::of_value(v);
                        (n, at, t.key(k).and_then(|k| k.span()).map(|s| s.start))
                    }
                    None => break,
                },
                (Node::Aot(a), Seg::Index(i)) => match a.get(*i) {
                    Some(t) => (Node::Table(t), t.span().map(|s| s.start), None),
                    None => break,
                },
                (Node::Array(a), Seg::Index(i)) => match a.get(*i) {
                    Some(v) => {
                        let (n, at) = Node::of_value(v);
                        (n, at, None)
                    }
                    None => break,
                },
                _ => break,
            };
            best = key_at.or(at).or(best);
            if let Some(a) = at {
                // A value on the key's line is the better place; a table header is too.
                best = Some(a);
            }
            node = next;
        }
        best.map(|o| self.line_col(o).0)
    }

    /// The path of the last key or table header that starts at or before `offset`.
    fn path_at(&self, offset: usize) -> Option<String> {
        fn walk(node: Node<'_>, path: &str, out: &mut Vec<(usize, String)>) {
            let join = |k: &str| {
                if path.is_empty() {
                    k.to_string()
                } else {
                    format!("{path}.{k}")
                }
            };
            match node {
                Node::Table(t) => {
                    for (k, item) in t.iter() {
                        let p = join(k);
                        if let Some(s) = t.key(k).and_then(|k| k.span()) {
                            out.push((s.start, p.clone()));
                        }
                        let (n, at) = Node::of_item(item);
                        if let (Some(a), Node::Table(_)) = (at, n) {
                            out.push((a, p.clone()));
                        }
                        walk(n, &p, out);
                    }
                }
                Node::Inline(t) => {
                    for (k, v) in t.iter() {
                        let p = join(k);
                        if let Some(s) = t.key(k).and_then(|k| k.span()) {
                            out.push((s.start, p.clone()));
                        }
                        walk(Node::of_value(v).0, &p, out);
                    }
                }
                Node::Aot(a) => {
                    for (i, t) in a.iter().enumerate() {
                        let p = format!("{path}[{i}]");
                        if let Some(s) = t.span() {
                            out.push((s.start, p.clone()));
                        }
                        walk(Node::Table(t), &p, out);
                    }
                }
                Node::Array(a) => {
                    for (i, v) in a.iter().enumerate() {
                        let p = format!("{path}[{i}]");
                        if let Some(s) = v.span() {
                            out.push((s.start, p.clone()));
                        }
                        walk(Node::of_value(v).0, &p, out);
                    }
                }
                Node::Leaf => {}
            }
        }
        let mut all = Vec::new();
        walk(Node::Table(self.doc().as_table()), "", &mut all);
        all.into_iter()
            .filter(|(s, _)| *s <= offset)
            .max_by_key(|(s, _)| *s)
            .map(|(_, p)| p)
    }

    /// A serde error from the typed pass, with its line and the path it is about.
    pub(super) fn de_error(
        &self,
        message: &str,
        span: Option<std::ops::Range<usize>>,
    ) -> InputError {
        let message = message.trim();
        let message = match message.strip_prefix("missing field ") {
            Some(f) => format!(
                "missing key {f} (expected `{} = ...` in this table)",
                f.trim_matches('`')
            ),
            None => message.to_string(),
        };
        match span {
            Some(s) => {
                let (l, c) = self.line_col(s.start);
                let message = match self.path_at(s.start) {
                    Some(p) => format!("{p}: {message}"),
                    None => message,
                };
                InputError::syntax(&self.file, Some(l), Some(c), message)
            }
            None => InputError::syntax(&self.file, None, None, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        assert_eq!(
            parse_path("sites[1].battery.soc_min"),
            vec![
                Seg::Key("sites".into()),
                Seg::Index(1),
                Seg::Key("battery".into()),
                Seg::Key("soc_min".into())
            ]
        );
        assert_eq!(
            parse_path("a.b[2][3]"),
            vec![
                Seg::Key("a".into()),
                Seg::Key("b".into()),
                Seg::Index(2),
                Seg::Index(3)
            ]
        );
    }

    #[test]
    fn locator_finds_lines() {
        let text = "version = 1\nname = \"x\"\n[[sites]]\nname = \"a\"\n\n[[sites]]\nname = \"b\"\ngrid = { carbon = { values = [1, 2,\n 3] } }\n[sites.battery]\nsoc_min = 1.5\n";
        let l = Locator::new(text, "t.toml").unwrap();
        assert_eq!(l.line("version"), Some(1));
        assert_eq!(l.line("sites[1].name"), Some(7));
        assert_eq!(l.line("sites[1]"), Some(6));
        assert_eq!(l.line("sites[1].battery.soc_min"), Some(11));
        assert_eq!(l.line("sites[1].battery"), Some(10));
        assert_eq!(l.line("sites[1].grid.carbon.values[2]"), Some(9));
        // A missing key: the deepest existing parent.
        assert_eq!(l.line("sites[1].battery.capacity_kwh"), Some(10));
        assert_eq!(l.line("sites[1].grid.carbon.values[0]"), Some(8));
        assert_eq!(
            l.path_at(text.find("1.5").unwrap()).as_deref(),
            Some("sites[1].battery.soc_min")
        );
    }
}
