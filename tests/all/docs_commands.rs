//! The pages cannot go stale: every shell block (```sh) of README.md and docs/*.md runs here,
//! in order, page by page, in a fresh folder that holds the repository's `testdata/` and
//! `workflow/` (the program and the test venv's tools on the PATH), and must succeed. A block
//! that cannot run on a test machine says why in its first line (`# not run by the tests: ...`)
//! and is listed on stderr; `# needs: TOOL` runs it when TOOL is on the PATH and says SKIPPED
//! otherwise. No command may hide in another kind of block: a `text` block holds output or a
//! `usage:` synopsis. And every link between the pages points at a page and heading that exist.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The pages: the README, then docs/ in name order.
fn pages() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    std::iter::once(root().join("README.md")).chain(docs).collect()
}

/// A fenced block of a page: its language tag, first line number and text.
struct Block {
    tag: String,
    line: usize,
    text: String,
}

fn blocks(page: &Path) -> Vec<Block> {
    let content = std::fs::read_to_string(page).unwrap();
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for (n, line) in content.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(tag)) => open = Some(Block { tag: tag.trim().to_string(), line: n + 1, text: String::new() }),
            (Some(_), Some(_)) => found.push(open.take().unwrap()),
            (Some(block), None) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{}: a code block is not closed", page.display());
    found
}

/// Words that start a command: such a line belongs in a ```sh block, where it is run.
const COMMANDS: [&str; 8] =
    ["real_space_diff_map ", "snakemake ", "cargo ", "pip ", "bash ", "scripts/", "sbatch ", "maturin "];

fn path_with_tools() -> String {
    let program_dir = Path::new(env!("CARGO_BIN_EXE_real_space_diff_map")).parent().unwrap().to_path_buf();
    format!(
        "{}:{}:{}",
        program_dir.display(),
        root().join(".venv-test/bin").display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

pub fn every_shell_command_in_the_readme_and_docs_runs_on_testdata() {
    let path = path_with_tools();
    let (mut ran, mut not_run) = (0, Vec::new());
    for page in pages() {
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        let folder = tempfile::tempdir().unwrap();
        for linked in ["testdata", "workflow"] {
            std::os::unix::fs::symlink(root().join(linked), folder.path().join(linked)).unwrap();
        }
        for block in blocks(&page) {
            let at = format!("{name}:{}", block.line);
            assert!(!block.tag.is_empty(), "{at}: a code block needs a language tag (sh, text, python, ...)");
            if block.tag != "sh" {
                for line in block.text.lines() {
                    let hidden = COMMANDS.iter().any(|c| line.trim_start().starts_with(c));
                    assert!(!hidden || block.tag != "text", "{at}: a command in a `text` block, not run: {line}");
                }
                continue;
            }
            let first = block.text.lines().next().unwrap_or_default();
            if let Some(reason) = first.strip_prefix("# not run by the tests") {
                let reason = reason.trim_start_matches([':', ' ']);
                assert!(reason.len() > 10, "{at}: say why the block is not run");
                not_run.push(format!("{at} ({reason})"));
                continue;
            }
            if let Some(tool) = first.strip_prefix("# needs: ") {
                let found = Command::new("bash")
                    .args(["-c", &format!("command -v {}", tool.trim())])
                    .env("PATH", &path)
                    .output()
                    .is_ok_and(|o| o.status.success());
                if !found {
                    eprintln!("SKIPPED {at}: needs {tool} (scripts/install_test_tools.sh installs it)");
                    continue;
                }
            }
            let out = Command::new("bash")
                .args(["-euo", "pipefail", "-c", &block.text])
                .current_dir(folder.path())
                .env("PATH", &path)
                .output()
                .unwrap();
            let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success(), "{at}: the block failed ({}):\n{}\n---\n{said}", out.status, block.text);
            assert!(!said.contains("panicked"), "{at}: {said}");
            ran += 1;
        }
    }
    eprintln!("docs: {ran} shell blocks ran; not run, each with its reason: {}", not_run.join("; "));
    assert!(ran >= 6, "only {ran} shell blocks ran");
    // The README is the first screen, not the manual: the rest lives in docs/.
    let readme_lines = std::fs::read_to_string(root().join("README.md")).unwrap().lines().count();
    assert!(readme_lines <= 200, "README.md has {readme_lines} lines; move detail into docs/");
}

/// GitHub's anchor of a heading: lower case, spaces to '-', punctuation other than '-' and '_'
/// dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(page: &Path) -> Vec<String> {
    let content = std::fs::read_to_string(page).unwrap();
    let mut inside_code = false;
    let mut found = Vec::new();
    for line in content.lines() {
        if line.starts_with("```") {
            inside_code = !inside_code;
        } else if !inside_code && line.starts_with('#') {
            found.push(anchor(line.trim_start_matches('#')));
        }
    }
    found
}

pub fn links_between_the_pages_point_at_pages_and_headings_that_exist() {
    for page in pages() {
        let content = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for target in content.split("](").skip(1).filter_map(|rest| rest.split(')').next()) {
            if target.starts_with("http") || target.contains(' ') {
                continue;
            }
            let (file, heading) = target.split_once('#').unwrap_or((target, ""));
            let linked = if file.is_empty() { page.clone() } else { page.parent().unwrap().join(file) };
            assert!(linked.exists(), "{name}: the link ({target}) names a file that does not exist");
            if !heading.is_empty() {
                assert!(
                    anchors(&linked).iter().any(|a| a == heading),
                    "{name}: the link ({target}) names a heading that does not exist"
                );
            }
        }
    }
}
