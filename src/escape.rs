//! One function per language that a string from an input (a file name, a chain ID, a residue
//! name, an error message) is written into, so that it stays text there: a CSV or TSV cell
//! that a spreadsheet will not run as a formula, a ChimeraX word that cannot start a new
//! command, a Python literal, a line for a terminal. (HTML has its own, in [`crate::view`].)

/// A CSV cell (RFC 4180): quoted when it holds a comma, a quote, a line break or a leading or
/// trailing space; and, when it starts with `=`, `+`, `-`, `@`, a tab or a carriage return, led
/// by a `'` so that a spreadsheet shows it instead of evaluating it (OWASP's rule for CSV
/// injection). For text cells only: numbers are written as numbers.
pub fn csv_cell(text: &str) -> String {
    let text = defuse_formula(text);
    let needs_quotes = text.contains([',', '"', '\n', '\r']) || text.starts_with(' ') || text.ends_with(' ');
    if needs_quotes { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.into_owned() }
}

/// A TSV cell: tabs and line breaks (`\n`, `\r`) become spaces, so that a row stays one row,
/// and a leading formula character is defused as in [`csv_cell`].
pub fn tsv_cell(text: &str) -> String {
    defuse_formula(&text.replace(['\t', '\n', '\r'], " ")).into_owned()
}

fn defuse_formula(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}").into() } else { text.into() }
}

/// A Python string literal (JSON's escapes are Python's): any text, one line.
pub fn python_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// Text for a ChimeraX command's quoted argument: ChimeraX's tokenizer has no escapes, so a
/// quote, a line break, a `;` (which separates commands) or any control character cannot be
/// written inside one; each becomes `_`.
pub fn chimerax_text(text: &str) -> String {
    text.chars().map(|c| if c == '"' || c == ';' || c == '\\' || c.is_control() { '_' } else { c }).collect()
}

/// Whether `path` can be opened from a ChimeraX command as it is (see [`chimerax_text`]).
pub fn chimerax_safe_path(path: &str) -> bool {
    chimerax_text(path) == path
}

/// A line for a terminal or a log: control characters shown escaped, except the newlines and
/// tabs of the program's own layout.
pub fn terminal(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// `text` as one word of a POSIX shell command: unchanged when it holds only characters no
/// shell reads specially, else in single quotes (a quote inside becomes `'\''`).
pub fn shell_word(text: &str) -> String {
    let plain = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "._-/=,:+@%".contains(c));
    if plain { text.to_string() } else { format!("'{}'", text.replace('\'', "'\\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("ASN"), "ASN");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@A1"), "'@A1");
        assert_eq!(csv_cell("a\rb"), "\"a\rb\"");
        assert_eq!(tsv_cell("-2+3\tx\ny"), "'-2+3 x y");
    }

    #[test]
    fn chimerax_and_python_text_stays_text() {
        assert_eq!(chimerax_text("A/ASN14 O"), "A/ASN14 O");
        assert_eq!(chimerax_text("x\"\nrunscript pwn.py;y"), "x__runscript pwn.py_y");
        assert!(chimerax_safe_path("maps/diff map.ccp4"));
        assert!(!chimerax_safe_path("a\nb.pdb"));
        assert_eq!(python_string("a\"b\n"), "\"a\\\"b\\n\"");
        assert_eq!(terminal("\u{1b}[31mred\r"), "\\x1b[31mred\\r");
        assert_eq!(shell_word("output=diff.ccp4"), "output=diff.ccp4");
        assert_eq!(shell_word("my map.mrc"), "'my map.mrc'");
        assert_eq!(shell_word("it's;rm -rf"), "'it'\\''s;rm -rf'");
        assert_eq!(shell_word(""), "''");
    }
}
