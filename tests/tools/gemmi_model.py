#!/usr/bin/env python3
"""Independent reads of atomic models, for the differential tests of the model reader.

  gemmi_model.py dump MODEL...            one JSON line per model: its first model's atoms
  gemmi_model.py convert IN OUT.cif OUT.pdb   gemmi's own mmCIF and PDB writings of IN
  gemmi_model.py symmetry MODEL           its NCS operators and assemblies, as JSON

Each atom is [chain, residue name, number, insertion code, atom name, altloc, element, x, y, z,
occupancy, B, anisotropic U (6 values) or null].
"""
import json
import sys

import gemmi


def atoms(path):
    st = gemmi.read_structure(path)
    out = []
    for chain in st[0]:
        for res in chain:
            for at in res:
                aniso = at.aniso
                u = [aniso.u11, aniso.u22, aniso.u33, aniso.u12, aniso.u13, aniso.u23] if aniso.nonzero() else None
                out.append([chain.name, res.name, res.seqid.num, res.seqid.icode.strip(), at.name,
                            at.altloc.strip("\0 "), at.element.name, at.pos.x, at.pos.y, at.pos.z,
                            at.occ, at.b_iso, u])
    return out


def main():
    if sys.argv[1] == "dump":
        for path in sys.argv[2:]:
            print(json.dumps({"path": path, "atoms": atoms(path)}))
    elif sys.argv[1] == "convert":
        st = gemmi.read_structure(sys.argv[2])
        st.setup_entities()
        st.make_mmcif_document().write_file(sys.argv[3])
        st.write_pdb(sys.argv[4])
    elif sys.argv[1] == "symmetry":
        st = gemmi.read_structure(sys.argv[2])
        ncs = [{"id": op.id, "given": op.given, "rotation": op.tr.mat.tolist(), "translation": op.tr.vec.tolist()}
               for op in st.ncs]
        assemblies = [{"id": a.name, "copies": sum(len(g.operators) for g in a.generators)} for a in st.assemblies]
        print(json.dumps({"ncs": ncs, "assemblies": assemblies}))
    else:
        sys.exit("usage: gemmi_model.py dump MODEL... | convert IN OUT.cif OUT.pdb | symmetry MODEL")


if __name__ == "__main__":
    main()
