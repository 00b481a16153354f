//! The small EMDB/PDB archive of the archive tests and the throughput benchmark, and the
//! servers that serve it (`tests/tools/archive_servers.py`): one file, shared by
//! `tests/all/archive.rs` and `benches/archive_throughput.rs`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn testdata(name: &str) -> PathBuf {
    root().join("testdata").join(name)
}

/// `source` gzip-compressed at `target` (folders made).
pub fn gzip_to(source: &Path, target: &Path) {
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(target).unwrap(), Default::default());
    gz.write_all(&std::fs::read(source).unwrap()).unwrap();
    gz.finish().unwrap();
}

/// A v3 header with the elements the program reads, laid out as the schema lays them out.
pub fn header_xml(id: &str, pdb_ids: &[&str], resolution: f64, half_maps: bool) -> String {
    let number = id.trim_start_matches("EMD-");
    let models: String = pdb_ids
        .iter()
        .map(|p| format!("<pdb_reference><pdb_id>{p}</pdb_id><relationship><in_frame>FULLOVERLAP</in_frame></relationship></pdb_reference>"))
        .collect();
    let halves = if half_maps {
        format!(
            "<half_map_list><half_map format=\"CCP4\"><file>emd_{number}_half_map_1.map.gz</file></half_map>\
             <half_map format=\"CCP4\"><file>emd_{number}_half_map_2.map.gz</file></half_map></half_map_list>"
        )
    } else {
        String::new()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<emd emdb_id=\"{id}\" version=\"3.0.2.7\">\
         <admin><current_status><code>REL</code></current_status></admin>\
         <crossreferences><pdb_list>{models}</pdb_list></crossreferences>\
         <structure_determination_list><structure_determination><method>singleParticle</method>\
         <singleparticle_processing><final_reconstruction><resolution res_type=\"BY AUTHOR\" units=\"Å\">{resolution}</resolution>\
         </final_reconstruction></singleparticle_processing></structure_determination></structure_determination_list>\
         <map format=\"CCP4\"><file>emd_{number}.map.gz</file><contour_list><contour primary=\"true\"><level>0.05</level></contour></contour_list></map>\
         <interpretation>{halves}</interpretation></emd>\n"
    )
}

/// The archive: EMD-21457 (the spike segment, its model as PDB 6vyb) and EMD-90001 (the ligand
/// pocket with half maps; two fitted models listed, the first used). Returns its folder.
pub fn build_archive(dir: &Path) -> PathBuf {
    let root = dir.join("archive");
    let emdb = root.join("emdb/structures");
    let pdb = root.join("pdb/data/structures/divided/mmCIF");
    gzip_to(&testdata("emd_21457_seg.mrc"), &emdb.join("EMD-21457/map/emd_21457.map.gz"));
    std::fs::create_dir_all(emdb.join("EMD-21457/header")).unwrap();
    std::fs::write(emdb.join("EMD-21457/header/emd-21457-v30.xml"), header_xml("EMD-21457", &["6VYB"], 3.2, false))
        .unwrap();
    gzip_to(&testdata("6vyb_Ndom_noNAG.cif"), &pdb.join("vy/6vyb.cif.gz"));
    add_pocket_entry(&root, 90001, &["9lpk", "9zzz"]);
    root
}

/// The ligand pocket as entry EMD-`number` of the archive at `root`: map, two half maps, a
/// header listing `pdb_ids`, and the model as the first of them.
fn add_pocket_entry(root: &Path, number: usize, pdb_ids: &[&str]) {
    let pocket = testdata("ligand_pocket");
    let folder = root.join(format!("emdb/structures/EMD-{number}"));
    gzip_to(&pocket.join("map.mrc"), &folder.join(format!("map/emd_{number}.map.gz")));
    for half in [1, 2] {
        gzip_to(
            &pocket.join(format!("half{half}.mrc")),
            &folder.join(format!("other/emd_{number}_half_map_{half}.map.gz")),
        );
    }
    std::fs::create_dir_all(folder.join("header")).unwrap();
    std::fs::write(
        folder.join(format!("header/emd-{number}-v30.xml")),
        header_xml(&format!("EMD-{number}"), pdb_ids, 3.2, true),
    )
    .unwrap();
    let model = pdb_ids[0].to_ascii_lowercase();
    let pdb = root.join("pdb/data/structures/divided/mmCIF");
    gzip_to(&pocket.join("model.cif"), &pdb.join(&model[1..3]).join(format!("{model}.cif.gz")));
}

/// The servers of `tests/tools/archive_servers.py`, stopped when dropped.
pub struct Servers {
    /// What the servers said: ports, bucket, why there is no S3.
    child: Child,
    pub info: serde_json::Value,
}

impl Servers {
    /// Starts them on `archive`.
    pub fn start(archive: &Path) -> Servers {
        let python = root().join(".venv-test/bin/python");
        let python = if python.exists() { python } else { PathBuf::from("python3") };
        let mut child = Command::new(python)
            .arg(root().join("tests/tools/archive_servers.py"))
            .arg(archive)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let info: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("servers said {line:?}: {e}"));
        Servers { child, info }
    }

    /// The URL of `archive` (emdb or pdb) under the behaviour `mode`.
    pub fn http(&self, mode: &str, archive: &str) -> String {
        format!("http://127.0.0.1:{}/{mode}/{archive}", self.info["http"])
    }

    /// GET counts per path so far.
    pub fn gets(&self) -> serde_json::Value {
        let url = format!("http://127.0.0.1:{}/_stats", self.info["http"]);
        let out = Command::new("python3")
            .args([
                "-c",
                "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                &url,
            ])
            .output()
            .unwrap();
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["GET"].clone()
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// An archive of `n` entries EMD-91000.. (each the ligand pocket with its half maps and model
/// PDB 9000..), for the throughput benchmark; returns its folder.
#[allow(dead_code)]
pub fn build_copies(dir: &Path, n: usize) -> PathBuf {
    let root = dir.join("archive");
    for i in 0..n {
        add_pocket_entry(&root, 91000 + i, &[&format!("9{:03}", i % 1000)]);
    }
    root
}
