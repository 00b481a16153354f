//! The EMDB header file (`header/emd-NNNN-v30.xml`, schema v3): what an entry is made of. Read
//! with roxmltree (a maintained, read-only XML tree): only the elements below are looked at, so
//! the rest of the schema may change without breaking a run.
//!
//! - `crossreferences/pdb_list/pdb_reference/pdb_id`: the fitted models, in the order given;
//! - `structure_determination_list/structure_determination/*_processing/final_reconstruction/
//!   resolution`: the resolution the authors give (the first one);
//! - `map/file` and `map/contour_list/contour[@primary='true']/level`: the primary map and the
//!   contour level the authors recommend;
//! - `interpretation/half_map_list/half_map/file`: the half maps;
//! - `interpretation/segmentation_list/segmentation/file`: the masks.

use crate::error::{Error, Result};

/// What an EMDB header says about its entry.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct EmdbHeader {
    /// The entry's id as the header writes it (`EMD-3488`).
    pub emdb_id: String,
    /// Fitted PDB ids, lower case, in the header's order.
    pub pdb_ids: Vec<String>,
    /// The resolution given by the authors (Å).
    pub resolution: Option<f64>,
    /// The primary map's file name (`emd_3488.map.gz`).
    pub map_file: Option<String>,
    /// The primary contour level of the map, in its own units.
    pub contour_level: Option<f64>,
    /// The half maps' file names, in the header's order.
    pub half_map_files: Vec<String>,
    /// The masks' file names.
    pub mask_files: Vec<String>,
}

/// Parses a header's text; `name` names it in errors.
pub fn parse_header(text: &str, name: &str) -> Result<EmdbHeader> {
    let document = roxmltree::Document::parse(text)
        .map_err(|e| Error::Invalid(format!("{name}: not an EMDB header (XML): {e}")))?;
    let root = document.root_element();
    if root.tag_name().name() != "emd" {
        return Err(Error::Invalid(format!(
            "{name}: not an EMDB v3 header: the root element is <{}>, not <emd>",
            root.tag_name().name()
        )));
    }
    let path = |tags: &[&str]| path_under(root, tags);
    let files = |tags: &[&str]| -> Vec<String> {
        path(tags).into_iter().filter_map(|n| child(n, "file").and_then(text_of)).collect()
    };
    let resolution = path(&["structure_determination_list", "structure_determination"])
        .into_iter()
        .flat_map(|d| d.children().filter(|c| c.tag_name().name().ends_with("_processing")))
        .filter_map(|p| child(p, "final_reconstruction"))
        .filter_map(|r| child(r, "resolution").and_then(text_of))
        .find_map(|t| t.parse::<f64>().ok().filter(|r| r.is_finite() && *r > 0.0));
    let map = path(&["map"]).into_iter().next();
    let contour_level = map
        .and_then(|m| child(m, "contour_list"))
        .and_then(|list| {
            let contours: Vec<_> = list.children().filter(|c| c.has_tag_name("contour")).collect();
            let primary =
                contours.iter().find(|c| c.attribute("primary") == Some("true")).or(contours.first()).copied();
            primary.and_then(|c| child(c, "level")).and_then(text_of)
        })
        .and_then(|t| t.parse::<f64>().ok());
    Ok(EmdbHeader {
        emdb_id: root.attribute("emdb_id").unwrap_or("").to_string(),
        pdb_ids: path(&["crossreferences", "pdb_list", "pdb_reference", "pdb_id"])
            .into_iter()
            .filter_map(text_of)
            .map(|id| id.to_ascii_lowercase())
            .collect(),
        resolution,
        map_file: map.and_then(|m| child(m, "file")).and_then(text_of),
        contour_level,
        half_map_files: files(&["interpretation", "half_map_list", "half_map"]),
        mask_files: files(&["interpretation", "segmentation_list", "segmentation"]),
    })
}

/// The first child of `node` named `tag`.
fn child<'a, 'input>(node: roxmltree::Node<'a, 'input>, tag: &str) -> Option<roxmltree::Node<'a, 'input>> {
    node.children().find(|c| c.has_tag_name(tag))
}

/// The trimmed text of `node`, when it has some.
fn text_of(node: roxmltree::Node<'_, '_>) -> Option<String> {
    node.text().map(str::trim).filter(|t| !t.is_empty()).map(String::from)
}

/// Every node reached from `root` through children named `tags`, in document order.
fn path_under<'a, 'input>(root: roxmltree::Node<'a, 'input>, tags: &[&str]) -> Vec<roxmltree::Node<'a, 'input>> {
    let mut nodes = vec![root];
    for tag in tags {
        nodes = nodes.iter().flat_map(|n| n.children().filter(|c| c.has_tag_name(*tag))).collect();
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The elements of a v3 header that matter here, laid out as the schema lays them out.
    const HEADER: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<emd emdb_id="EMD-3488" version="3.0.2.7">
  <admin><current_status><code>REL</code></current_status></admin>
  <crossreferences>
    <pdb_list>
      <pdb_reference><pdb_id>5NI1</pdb_id><relationship><in_frame>FULLOVERLAP</in_frame></relationship></pdb_reference>
      <pdb_reference><pdb_id>6abc</pdb_id></pdb_reference>
    </pdb_list>
  </crossreferences>
  <structure_determination_list>
    <structure_determination>
      <method>singleParticle</method>
      <singleparticle_processing>
        <final_reconstruction>
          <resolution res_type="BY AUTHOR" units="Å">3.2</resolution>
        </final_reconstruction>
      </singleparticle_processing>
    </structure_determination>
  </structure_determination_list>
  <map format="CCP4" size_kbytes="1000">
    <file>emd_3488.map.gz</file>
    <contour_list>
      <contour primary="false"><level>0.2</level></contour>
      <contour primary="true"><level>0.0123</level><source>AUTHOR</source></contour>
    </contour_list>
  </map>
  <interpretation>
    <segmentation_list><segmentation><file>emd_3488_msk_1.map</file></segmentation></segmentation_list>
    <half_map_list>
      <half_map format="CCP4"><file>emd_3488_half_map_1.map.gz</file></half_map>
      <half_map format="CCP4"><file>emd_3488_half_map_2.map.gz</file></half_map>
    </half_map_list>
  </interpretation>
</emd>"#;

    #[test]
    fn a_v3_header_gives_models_resolution_maps_and_masks() {
        let h = parse_header(HEADER, "emd-3488-v30.xml").unwrap();
        assert_eq!(h.emdb_id, "EMD-3488");
        assert_eq!(h.pdb_ids, ["5ni1", "6abc"]);
        assert_eq!(h.resolution, Some(3.2));
        assert_eq!(h.map_file.as_deref(), Some("emd_3488.map.gz"));
        assert_eq!(h.contour_level, Some(0.0123), "the primary contour, not the first");
        assert_eq!(h.half_map_files, ["emd_3488_half_map_1.map.gz", "emd_3488_half_map_2.map.gz"]);
        assert_eq!(h.mask_files, ["emd_3488_msk_1.map"]);
    }

    #[test]
    fn other_xml_and_broken_xml_are_named() {
        let e = parse_header("<html><body/></html>", "x.xml").unwrap_err().to_string();
        assert!(e.contains("x.xml") && e.contains("<html>"), "{e}");
        let e = parse_header("<emd emdb_id=", "y.xml").unwrap_err().to_string();
        assert!(e.contains("y.xml: not an EMDB header"), "{e}");
        let bare = parse_header("<emd emdb_id=\"EMD-1\"/>", "z.xml").unwrap();
        assert!(bare.pdb_ids.is_empty() && bare.resolution.is_none() && bare.half_map_files.is_empty());
    }
}
