//! The hand-written declarations in `src/ffi.rs` against HiGHS' own header, and the compiled
//! library against the declarations: a wrong type here would not fail to link, it would corrupt
//! memory, so it is checked rather than trusted.

use std::collections::BTreeMap;
use std::path::Path;
use suandian_highs::ffi;
use suandian_highs::{BasisStatus, Error, ModelStatus, Problem, Sense};

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// C without its comments.
fn strip_c_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
            out.push(' ');
        } else if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// One C type in the spelling `src/ffi.rs` uses: `const double*` is `*const c_double`,
/// `void*` is `*mut c_void`; a `const` on a value passed by copy does not change the ABI.
fn c_type_to_rust(c: &str) -> String {
    let c = c.trim();
    let pointers = c.matches('*').count();
    let base = c.replace('*', " ");
    let words: Vec<&str> = base.split_whitespace().collect();
    let is_const = words.contains(&"const");
    let name = words
        .iter()
        .copied()
        .find(|w| *w != "const")
        .unwrap_or_else(|| panic!("no type in `{c}`"));
    let name = match name {
        "double" => "c_double".to_string(),
        "char" => "c_char".to_string(),
        "void" => "c_void".to_string(),
        "int" => "c_int".to_string(),
        other => other.to_string(),
    };
    match pointers {
        0 => name,
        1 if is_const => format!("*const {name}"),
        1 => format!("*mut {name}"),
        // Not used by any function declared; kept distinct so that a declaration of one fails.
        _ => format!("unsupported C type `{c}`"),
    }
}

/// Each function of the header as (parameter types, return type), in `src/ffi.rs`'s spelling.
fn header_functions() -> BTreeMap<String, (Vec<(String, String)>, String)> {
    let header = strip_c_comments(&read("HiGHS/highs/interfaces/highs_c_api.h"));
    let mut out = BTreeMap::new();
    for decl in header.split(';') {
        let Some(open) = decl.find("Highs_") else {
            continue;
        };
        let Some(paren) = decl[open..].find('(').map(|p| open + p) else {
            continue;
        };
        let name = decl[open..paren].trim();
        if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        // The return type is what precedes the name on its declaration.
        let before = &decl[..open];
        let ret = before
            .rsplit(['}', '{', ')', '#', '\n'])
            .next()
            .unwrap_or("")
            .trim();
        let ret = ret.trim_start_matches("extern").trim();
        let Some(close) = decl.rfind(')') else {
            continue;
        };
        let params = decl[paren + 1..close].trim();
        let params: Vec<(String, String)> = if params == "void" || params.is_empty() {
            Vec::new()
        } else {
            params
                .split(',')
                .map(|p| {
                    let p = p.trim();
                    let split = p
                        .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .unwrap_or_else(|| panic!("{name}: parameter `{p}` has no type"));
                    let (ty, pname) = p.split_at(split + 1);
                    (pname.trim().to_string(), c_type_to_rust(ty))
                })
                .collect()
        };
        let ret = if ret == "void" {
            "()".to_string()
        } else {
            c_type_to_rust(ret)
        };
        out.insert(name.to_string(), (params, ret));
    }
    out
}

/// Each function `src/ffi.rs` declares, in the same shape.
fn declared_functions() -> BTreeMap<String, (Vec<(String, String)>, String)> {
    let src = read("src/ffi.rs");
    let mut out = BTreeMap::new();
    for decl in src.split("pub fn ").skip(1) {
        let decl = &decl[..decl.find(';').expect("a declaration ends with `;`")];
        let open = decl.find('(').unwrap();
        let close = decl.rfind(')').unwrap();
        let name = decl[..open].trim().to_string();
        let params = decl[open + 1..close]
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (n, t) = p.split_once(':').expect("`name: type`");
                (
                    n.trim().to_string(),
                    t.split_whitespace().collect::<Vec<_>>().join(" "),
                )
            })
            .collect();
        let ret = decl[close + 1..]
            .trim()
            .strip_prefix("->")
            .map_or("()".to_string(), |r| r.trim().to_string());
        out.insert(name, (params, ret));
    }
    out
}

#[test]
fn every_declaration_matches_highs_c_api_h() {
    let header = header_functions();
    let declared = declared_functions();
    assert!(
        declared.len() >= 20,
        "found only {} declarations in src/ffi.rs",
        declared.len()
    );
    for (name, (params, ret)) in &declared {
        let (h_params, h_ret) = header
            .get(name)
            .unwrap_or_else(|| panic!("{name} is declared in src/ffi.rs but not in highs_c_api.h"));
        assert_eq!(ret, h_ret, "{name}: return type");
        assert_eq!(params, h_params, "{name}: parameters (name, type)");
    }
}

#[test]
fn the_header_check_catches_a_wrong_declaration() {
    // The comparison itself has teeth: a width or constness error is a difference.
    let header = header_functions();
    let (params, ret) = &header["Highs_getSolution"];
    assert_eq!(ret, "HighsInt");
    assert_eq!(params[0].1, "*const c_void");
    assert_eq!(params[1].1, "*mut c_double");
    let (params, _) = &header["Highs_passLp"];
    assert_eq!(params[1], ("num_col".to_string(), "HighsInt".to_string()));
    assert_eq!(params[7].1, "*const c_double");
    assert_eq!(header["Highs_create"].1, "*mut c_void");
    assert_eq!(header["Highs_destroy"].1, "()");
}

#[test]
fn every_constant_matches_highs_c_api_h() {
    let header = strip_c_comments(&read("HiGHS/highs/interfaces/highs_c_api.h"));
    let in_header: BTreeMap<&str, i64> = header
        .lines()
        .filter_map(|l| l.trim().strip_prefix("static const HighsInt "))
        .filter_map(|l| {
            let (name, value) = l.split_once('=')?;
            Some((
                name.trim(),
                value.trim().trim_end_matches(';').trim().parse().ok()?,
            ))
        })
        .collect();
    let src = read("src/ffi.rs");
    let mut checked = 0;
    for line in src.lines() {
        let Some(rest) = line.trim().strip_prefix("pub const ") else {
            continue;
        };
        let (name, rest) = rest.split_once(':').unwrap();
        let value: i64 = rest
            .split_once('=')
            .unwrap()
            .1
            .trim()
            .trim_end_matches(';')
            .parse()
            .unwrap();
        assert_eq!(in_header.get(name), Some(&value), "{name} in src/ffi.rs");
        checked += 1;
    }
    assert!(checked >= 30, "checked only {checked} constants");
}

#[test]
fn highs_int_is_the_width_declared_and_the_version_is_the_vendored_one() {
    // SAFETY: a new instance, asked one size, destroyed.
    let size = unsafe {
        let highs = ffi::Highs_create();
        let size = ffi::Highs_getSizeofHighsInt(highs);
        ffi::Highs_destroy(highs);
        size
    };
    assert_eq!(size as usize, std::mem::size_of::<ffi::HighsInt>());
    let text = read("HiGHS/Version.txt");
    let field = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .unwrap()
            .trim()
            .to_string()
    };
    let vendored = format!(
        "{}.{}.{}",
        field("HIGHS_MAJOR"),
        field("HIGHS_MINOR"),
        field("HIGHS_PATCH")
    );
    assert_eq!(suandian_highs::version(), vendored);
}

/// max 3x + 2y s.t. x + y <= 4, x + 3y <= 6, x <= 3: optimum x = 3, y = 1, objective 11.
fn small_lp() -> Problem {
    let mut pb = Problem::default();
    let x = pb.add_column(3.0, 0.0..=3.0);
    let y = pb.add_column(2.0, 0.0..);
    pb.add_row(..=4.0, &[(x, 1.0), (y, 1.0)]);
    pb.add_row(..=6.0, &[(x, 1.0), (y, 3.0)]);
    pb
}

#[test]
fn a_hand_solved_lp_and_its_warm_start() {
    let mut model = small_lp().optimise(Sense::Maximise).unwrap();
    model.set_option("solver", "simplex").unwrap();
    let solved = model.solve().unwrap();
    assert_eq!(solved.status(), ModelStatus::Optimal);
    assert!((solved.objective_value() - 11.0).abs() < 1e-9);
    let x = solved.column_values();
    assert!(
        (x[0] - 3.0).abs() < 1e-9 && (x[1] - 1.0).abs() < 1e-9,
        "{x:?}"
    );
    assert!(solved.simplex_iterations() > 0);
    let basis = solved.basis().expect("a simplex solve has a basis");
    assert_eq!((basis.cols.len(), basis.rows.len()), (2, 2));
    assert_eq!(basis.cols[1], BasisStatus::Basic);

    // The same problem started from its optimal basis needs no iteration.
    let mut again = small_lp().optimise(Sense::Maximise).unwrap();
    again.set_option("solver", "simplex").unwrap();
    again.set_basis(&basis.cols, &basis.rows).unwrap();
    let again = again.solve().unwrap();
    assert_eq!(again.status(), ModelStatus::Optimal);
    assert_eq!(again.simplex_iterations(), 0);
    assert_eq!(again.column_values(), x);
}

#[test]
fn misuse_is_an_error_not_a_crash() {
    let mut model = small_lp().optimise(Sense::Minimise).unwrap();
    assert_eq!(
        model.set_option("no_such_option", 1),
        Err(Error::Option {
            name: "no_such_option".into()
        })
    );
    assert!(model.set_option("solver", "no such solver").is_err());
    assert!(model.set_option("time_limit", "not a number").is_err());
    let err = model
        .set_basis(&[BasisStatus::Basic], &[BasisStatus::Basic; 2])
        .unwrap_err();
    assert_eq!(
        err,
        Error::BasisLength {
            what: "columns",
            expected: 2,
            found: 1
        }
    );
    assert!(
        err.to_string()
            .contains("1 columns statuses for a model with 2 columns"),
        "{err}"
    );

    // Infeasible: x >= 5 with x <= 3.
    let mut pb = Problem::default();
    let x = pb.add_column(1.0, 0.0..=3.0);
    pb.add_row(5.0.., &[(x, 1.0)]);
    let solved = pb.optimise(Sense::Minimise).unwrap().solve().unwrap();
    assert_eq!(solved.status(), ModelStatus::Infeasible);

    // A column entered twice in one row: HiGHS refuses the matrix.
    let mut pb = Problem::default();
    let x = pb.add_column(1.0, 0.0..=3.0);
    pb.add_row(1.0.., &[(x, 1.0), (x, 1.0)]);
    assert!(matches!(
        pb.optimise(Sense::Minimise),
        Err(Error::Rejected { .. })
    ));
}

#[test]
fn an_empty_model_solves() {
    let solved = Problem::default()
        .optimise(Sense::Minimise)
        .unwrap()
        .solve()
        .unwrap();
    assert!(matches!(
        solved.status(),
        ModelStatus::ModelEmpty | ModelStatus::Optimal
    ));
    assert!(solved.column_values().is_empty());
}
