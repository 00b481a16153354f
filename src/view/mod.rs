//! What people look at: viewer scripts that open a run's files in ChimeraX and Coot
//! ([`scripts`]), PNG slices through the strongest peaks ([`pictures`]), a self-contained HTML
//! report of one run ([`html`]) and a batch's page ([`batch_page`]).
//!
//! Everything here reads the results (the report, the maps in memory); nothing feeds back into
//! the science. Every file links to the others by paths relative to itself, so a results folder
//! can be moved or copied as a whole.

pub mod batch_page;
pub mod html;
pub mod pictures;
pub mod scripts;

use std::path::{Component, Path, PathBuf};

/// The path of `target` as seen from the directory `from_dir`, with `..` where needed; the
/// absolute path when the two share no root (another drive). Both are resolved through links
/// where they exist, so that a script finds its files however the run named them.
pub fn relative_path(from_dir: &Path, target: &Path) -> PathBuf {
    let resolve = |p: &Path| p.canonicalize().or_else(|_| std::path::absolute(p)).unwrap_or_else(|_| p.to_path_buf());
    let (from, to) = (resolve(from_dir), resolve(target));
    let from_parts: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    let common = from_parts.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return to;
    }
    let mut relative = PathBuf::new();
    for _ in common..from_parts.len() {
        relative.push("..");
    }
    for part in &to_parts[common..] {
        relative.push(part.as_os_str());
    }
    relative
}

/// The directory a file is in ("." for a bare name).
pub fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A relative path spelled with `/` whatever the platform, for scripts and web pages.
pub fn slash_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy().to_string()).collect::<Vec<_>>().join("/")
}

/// Text made safe for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_out_of_the_script_folder() {
        let root = std::env::temp_dir().join(format!("rsdm_relative_{}", std::process::id()));
        std::fs::create_dir_all(root.join("results/entry")).unwrap();
        std::fs::create_dir_all(root.join("inputs")).unwrap();
        std::fs::write(root.join("inputs/model.pdb"), "").unwrap();
        let relative = relative_path(&root.join("results/entry"), &root.join("inputs/model.pdb"));
        assert_eq!(slash_path(&relative), "../../inputs/model.pdb");
        assert_eq!(slash_path(&relative_path(&root.join("inputs"), &root.join("inputs/model.pdb"))), "model.pdb");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn html_text_is_escaped() {
        assert_eq!(escape_html("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
