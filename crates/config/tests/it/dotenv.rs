//! The `.env` syntax, and a round trip through rendered files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hoist_config::dotenv::{self, DotenvEntry, Expand, quote};
use proptest::prelude::*;

fn parse(source: &str) -> Vec<(String, String)> {
    dotenv::parse(Path::new(".env"), source, Expand::OWN_KEYS_ONLY)
        .unwrap()
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn the_common_syntax() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("A=1", &[("A", "1")]),
        ("A=1\r\nB=2\r\n", &[("A", "1"), ("B", "2")]),
        ("export A=1", &[("A", "1")]),
        ("export=1", &[("export", "1")]),
        ("  A \t=  spaced value  ", &[("A", "spaced value")]),
        ("A=", &[("A", "")]),
        ("A= # only a comment", &[("A", "")]),
        ("# comment\n\n   # indented comment\nA=1", &[("A", "1")]),
        ("A=x # comment", &[("A", "x")]),
        ("A=x#not-a-comment", &[("A", "x#not-a-comment")]),
        ("A=a=b=c", &[("A", "a=b=c")]),
        ("A='single # \\n $x ${Y}'", &[("A", "single # \\n $x ${Y}")]),
        (
            "A=\"dq \\\" \\\\ \\n \\t \\$ # in\" # out",
            &[("A", "dq \" \\ \n \t $ # in")],
        ),
        (
            "A=\"line1\nline2\"\nB=2",
            &[("A", "line1\nline2"), ("B", "2")],
        ),
        (
            "A='multi\n# not a comment\n'",
            &[("A", "multi\n# not a comment\n")],
        ),
        (
            "A=unquoted \"quotes\" and 'more'",
            &[("A", "unquoted \"quotes\" and 'more'")],
        ),
        ("A=C:\\path\\x", &[("A", "C:\\path\\x")]),
        ("A=price $5", &[("A", "price $5")]),
        ("A=héllo wörld ✓", &[("A", "héllo wörld ✓")]),
        (
            "H=db\nURL=postgres://${H}:5432\nQ=\"${H}/x\"\nS='${H}'",
            &[
                ("H", "db"),
                ("URL", "postgres://db:5432"),
                ("Q", "db/x"),
                ("S", "${H}"),
            ],
        ),
        ("A=1\nA=2", &[("A", "1"), ("A", "2")]),
    ];
    for (source, expected) in cases {
        assert_eq!(parse(source), pairs(expected), "parsing {source:?}");
    }
}

#[test]
fn entries_carry_their_first_line() {
    let entries = dotenv::parse(
        Path::new("x"),
        "# c\nA=\"1\n2\"\nB=3\n",
        Expand::OWN_KEYS_ONLY,
    )
    .unwrap();
    assert_eq!(
        entries,
        vec![
            DotenvEntry {
                key: "A".into(),
                value: "1\n2".into(),
                line: 2
            },
            DotenvEntry {
                key: "B".into(),
                value: "3".into(),
                line: 4
            },
        ]
    );
}

#[test]
fn expansion_looks_at_the_process_first_then_the_file_then_earlier_files() {
    let process = |name: &str| (name == "P").then(|| "from-process".to_owned());
    let earlier =
        |name: &str| matches!(name, "P" | "E" | "F").then(|| "from-earlier-file".to_owned());
    let expand = Expand {
        first: &process,
        last: &earlier,
    };
    let entries = dotenv::parse(
        Path::new("x"),
        "P=own\nF=own\nA=${P}\nB=${F}\nC=${E}",
        expand,
    )
    .unwrap();
    let values: BTreeMap<_, _> = entries.into_iter().map(|e| (e.key, e.value)).collect();
    assert_eq!(values["A"], "from-process");
    assert_eq!(values["B"], "own");
    assert_eq!(values["C"], "from-earlier-file");
}

/// How one pair is written into the generated file.
#[derive(Debug, Clone, Copy)]
enum Style {
    Double,
    Single,
    Bare,
}

fn safe_bare(value: &str) -> bool {
    !value.is_empty()
        && !value.contains(['\n', '\r'])
        && !value.starts_with([' ', '\t', '"', '\'', '#'])
        && !value.ends_with([' ', '\t'])
        && !value.contains(" #")
        && !value.contains("\t#")
        && !value.contains("${")
}

fn render(pairs: &[(String, String, Style, bool)]) -> String {
    let mut out = String::from("# generated\n");
    for (key, value, style, export) in pairs {
        let written = match style {
            Style::Single if !value.contains('\'') => format!("'{value}'"),
            Style::Bare if safe_bare(value) => value.clone(),
            _ => quote(value),
        };
        let prefix = if *export { "export " } else { "" };
        let _ = write!(out, "{prefix}{key} = {written}\n\n# between\n");
    }
    out
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        proptest::collection::vec(
            prop_oneof![
                Just("\"".to_owned()),
                Just("\\".to_owned()),
                Just("\n".to_owned()),
                Just("#".to_owned()),
                Just(" # ".to_owned()),
                Just("=".to_owned()),
                Just("${A}".to_owned()),
                Just("'".to_owned()),
                Just("$".to_owned()),
                Just("é✓".to_owned()),
                Just("\r\n".to_owned()),
                "[a-z]{1,4}"
            ],
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

fn style() -> impl Strategy<Value = Style> {
    prop_oneof![Just(Style::Double), Just(Style::Single), Just(Style::Bare)]
}

proptest! {
    // More cases for a long run: PROPTEST_CASES=100000 cargo test -p hoist-config --test it dotenv
    #[test]
    fn rendered_files_parse_back_to_the_same_pairs(
        pairs in proptest::collection::vec(("[A-Za-z_][A-Za-z0-9_]{0,12}", value(), style(), any::<bool>()), 0..8)
    ) {
        let source = render(&pairs);
        let parsed = dotenv::parse(Path::new(".env"), &source, Expand::OWN_KEYS_ONLY);
        let parsed: Vec<(String, String)> = parsed
            .map_err(|e| TestCaseError::fail(format!("{e} in {source:?}")))?
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect();
        let expected: Vec<(String, String)> = pairs.into_iter().map(|(k, v, _, _)| (k, v)).collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn arbitrary_input_never_panics(source in any::<String>()) {
        let _ = dotenv::parse(Path::new(".env"), &source, Expand::OWN_KEYS_ONLY);
    }
}
