//! Element symbols and atomic numbers (H to Cf, the range of the electron form-factor table), and
//! the element of an atom whose file leaves it out, from the atom name's PDB alignment.

/// Symbols by atomic number; index 0 is the unknown element.
const SYMBOLS: [&str; 99] = [
    "X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar", "K", "Ca",
    "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",
    "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce",
    "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir",
    "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm",
    "Bk", "Cf",
];

/// An element: its conventional symbol ("Fe"; "D" for deuterium) and atomic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element {
    /// Symbol in conventional case.
    pub symbol: &'static str,
    /// Atomic number (deuterium is 1).
    pub atomic_number: u8,
}

/// The element named by `symbol`, in any case ("FE", "fe", "Fe"); deuterium ("D") is hydrogen's
/// number with its own symbol. `None` for anything else.
pub fn element_from_symbol(symbol: &str) -> Option<Element> {
    let symbol = symbol.trim();
    if symbol.eq_ignore_ascii_case("D") {
        return Some(Element { symbol: "D", atomic_number: 1 });
    }
    SYMBOLS
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, s)| s.eq_ignore_ascii_case(symbol))
        .map(|(z, s)| Element { symbol: s, atomic_number: z as u8 })
}

/// The element of an atom from its name as written in PDB columns 13-16, for files that leave
/// the element columns empty. PDB alignment puts the element symbol right-justified in the first
/// two columns: " CA " is a carbon, "CA  " a calcium, "1HB " and "HG21" hydrogens.
pub fn element_from_padded_name(padded_name: &str) -> Option<Element> {
    let bytes = padded_name.as_bytes();
    let first = *bytes.first()?;
    let second = bytes.get(1).copied().unwrap_or(b' ');
    if first == b' ' || first.is_ascii_digit() {
        return if second.is_ascii_alphabetic() { element_from_symbol(&(second as char).to_string()) } else { None };
    }
    if !first.is_ascii_alphabetic() {
        return None;
    }
    // Four-character hydrogen names fill column 13 ("HG21", "HD11").
    let full = bytes.len() >= 4 && bytes[..4].iter().all(|b| !b.is_ascii_whitespace());
    if full && matches!(first, b'H' | b'D') {
        return element_from_symbol(&(first as char).to_string());
    }
    if second.is_ascii_alphabetic()
        && let Some(e) = element_from_symbol(&String::from_utf8_lossy(&[first, second]))
    {
        return Some(e);
    }
    element_from_symbol(&(first as char).to_string())
}

/// The element of an atom from an unaligned name (mmCIF files without `type_symbol`): an ion
/// named like its residue ("ZN" in ZN) is that element, else the first letter decides.
pub fn element_from_name(atom_name: &str, residue_name: &str) -> Option<Element> {
    let letters: String = atom_name.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    if letters.is_empty() {
        return None;
    }
    if letters.len() <= 2
        && letters.eq_ignore_ascii_case(residue_name.trim())
        && let Some(e) = element_from_symbol(&letters)
    {
        return Some(e);
    }
    element_from_symbol(&letters[..1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_in_any_case() {
        assert_eq!(element_from_symbol("FE").unwrap().atomic_number, 26);
        assert_eq!(element_from_symbol("fe").unwrap().symbol, "Fe");
        assert_eq!(element_from_symbol("Cf").unwrap().atomic_number, 98);
        assert_eq!(element_from_symbol("D").unwrap(), Element { symbol: "D", atomic_number: 1 });
        assert!(element_from_symbol("Xx").is_none() && element_from_symbol("").is_none());
        assert_eq!(SYMBOLS.len(), 99);
    }

    #[test]
    fn pdb_alignment_decides() {
        let z = |n: &str| element_from_padded_name(n).map(|e| e.atomic_number);
        assert_eq!(z(" CA "), Some(6));
        assert_eq!(z("CA  "), Some(20));
        assert_eq!(z("FE  "), Some(26));
        assert_eq!(z("1HB "), Some(1));
        assert_eq!(z("HG21"), Some(1));
        assert_eq!(z(" N  "), Some(7));
        assert_eq!(z("    "), None);
    }

    #[test]
    fn unaligned_names() {
        assert_eq!(element_from_name("CA", "ALA").map(|e| e.symbol), Some("C"));
        assert_eq!(element_from_name("ZN", "ZN").map(|e| e.atomic_number), Some(30));
        assert_eq!(element_from_name("1HB", "ALA").map(|e| e.symbol), Some("H"));
        assert_eq!(element_from_name("123", "ALA"), None);
    }
}
