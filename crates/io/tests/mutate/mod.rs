//! The input mutations of the fuzz tests (`crates/io/tests/fuzz.rs`, and GAIA's readers in
//! `crates/gaia/tests/fuzz.rs`, which include this file): valid seeds edited by insertions,
//! deletions, duplications, single bytes, and tokens that broke parsers before.

use proptest::prelude::*;
use std::path::PathBuf;

/// An edit of a seed: where (a fraction of its length), what, and a token or byte.
#[derive(Debug, Clone)]
pub enum Edit {
    Insert(f64, usize),
    Delete(f64, usize),
    Duplicate(f64, usize),
    Byte(f64, u8),
}

/// Tokens that once broke parsers, or could.
pub const TOKENS: [&str; 24] = [
    "1e308",
    "-1e308",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "-1",
    "0",
    "99999999999999999999",
    "1.5",
    "2024-13-45T99:99:99Z",
    "2024-06-01T00:00:00.5Z",
    "\"",
    ",",
    "\n",
    "\r\n",
    "\u{feff}",
    "\u{0}",
    "[",
    "]",
    "{",
    "}",
    "=",
    "",
];

pub fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (0.0..1.0f64, 0..TOKENS.len()).prop_map(|(a, t)| Edit::Insert(a, t)),
        (0.0..1.0f64, 1..40usize).prop_map(|(a, n)| Edit::Delete(a, n)),
        (0.0..1.0f64, 1..200usize).prop_map(|(a, n)| Edit::Duplicate(a, n)),
        (0.0..1.0f64, any::<u8>()).prop_map(|(a, b)| Edit::Byte(a, b)),
    ];
    proptest::collection::vec(edit, 1..6)
}

pub fn apply(seed: &str, edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    for e in edits {
        let at = |f: f64, len: usize| ((f * len as f64) as usize).min(len);
        match *e {
            Edit::Insert(f, t) => {
                let i = at(f, b.len());
                b.splice(i..i, TOKENS[t].bytes());
            }
            Edit::Delete(f, n) => {
                let i = at(f, b.len());
                let j = (i + n).min(b.len());
                b.drain(i..j);
            }
            Edit::Duplicate(f, n) => {
                let i = at(f, b.len());
                let j = (i + n).min(b.len());
                let part: Vec<u8> = b[i..j].to_vec();
                b.splice(j..j, part);
            }
            Edit::Byte(f, v) => {
                if !b.is_empty() {
                    let i = at(f, b.len() - 1);
                    b[i] = v;
                }
            }
        }
    }
    b
}

pub fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("suandian-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// 128 cases per target, or `PROPTEST_CASES`.
pub fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}
