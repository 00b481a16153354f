#!/usr/bin/env python3
"""Independent reads of atomic models, for the differential tests of the model reader.

  gemmi_model.py dump MODEL...            one JSON line per model: its first model's atoms
  gemmi_model.py convert IN OUT.cif OUT.pdb   gemmi's own mmCIF and PDB writings of IN
  gemmi_model.py symmetry MODEL           its NCS operators and assemblies, as JSON
  gemmi_model.py expand MODEL ncs|ID [OUT]  atoms of Structure.expand_ncs or make_assembly(ID),
                                          copied chains keeping their names; OUT: also written
  gemmi_model.py simulate MODEL OUT.mrc D_MIN EDGE SPACING NOISE_SD SEED
                                          an electron-density map of MODEL in a cube of EDGE Å
                                          from the origin (gemmi's DensityCalculatorE), plus noise

Each atom is [chain, residue name, number, insertion code, atom name, altloc, element, x, y, z,
occupancy, B, anisotropic U (6 values) or null].
"""
import json
import sys

import gemmi


def atoms(path):
    return model_atoms(gemmi.read_structure(path)[0])


def model_atoms(model):
    out = []
    for chain in model:
        for res in chain:
            for at in res:
                aniso = at.aniso
                u = [aniso.u11, aniso.u22, aniso.u33, aniso.u12, aniso.u13, aniso.u23] if aniso.nonzero() else None
                out.append([chain.name, res.name, res.seqid.num, res.seqid.icode.strip(), at.name,
                            at.altloc.strip("\0 "), at.element.name, at.pos.x, at.pos.y, at.pos.z,
                            at.occ, at.b_iso, u])
    return out


def expression_groups(expression):
    """The id lists of an operator expression's parenthesised groups: '(1-5)(6,7)' ->
    [['1'..'5'], ['6', '7']]."""
    groups = []
    for group in expression.replace(" ", "").strip("()").split(")("):
        ids = []
        for part in group.split(","):
            if "-" in part:
                first, last = part.split("-")
                ids.extend(str(i) for i in range(int(first), int(last) + 1))
            else:
                ids.append(part)
        groups.append(ids)
    return groups


def multiply_products(path, assembly):
    """gemmi (0.7) reads only the first group of a product expression such as (1-5)(6-7): for
    those, the assembly's operators become the products A*B (B applied first, as mmCIF
    defines them), each formed by gemmi's Transform.combine from the file's oper_list."""
    if not path.endswith(".cif"):
        return
    block = gemmi.cif.read(path).sole_block()
    table = block.find("_pdbx_struct_oper_list.", ["id"] + [f"matrix[{i}][{j}]" for i in (1, 2, 3) for j in (1, 2, 3)]
                       + [f"vector[{i}]" for i in (1, 2, 3)])
    transforms = {}
    for row in table:
        t = gemmi.Transform()
        t.mat.fromlist([[float(row[1 + 3 * i + j]) for j in range(3)] for i in range(3)])
        t.vec.fromlist([float(row[10 + i]) for i in range(3)])
        transforms[row[0]] = t
    gens = block.find("_pdbx_struct_assembly_gen.", ["assembly_id", "oper_expression"])
    expressions = [gemmi.cif.as_string(r[1]) for r in gens if gemmi.cif.as_string(r[0]) == assembly.name]
    for gen, expression in zip(assembly.generators, expressions):
        groups = expression_groups(expression)
        if len(groups) < 2:
            continue
        products = [([name], transforms[name]) for name in groups[0]]
        for group in groups[1:]:
            products = [(names + [b], t.combine(transforms[b])) for names, t in products for b in group]
        gen.operators.clear()
        for names, t in products:
            op = gemmi.Assembly.Operator()
            op.name = "x".join(names)
            op.transform = t
            gen.operators.append(op)


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
    elif sys.argv[1] == "simulate":
        import numpy
        st = gemmi.read_structure(sys.argv[2])
        d_min, edge, spacing, noise, seed = (float(v) for v in sys.argv[4:9])
        n = int(round(edge / spacing))
        st.cell = gemmi.UnitCell(edge, edge, edge, 90, 90, 90)
        dc = gemmi.DensityCalculatorE()
        dc.d_min = d_min
        dc.rate = d_min / (2 * spacing)
        dc.grid.setup_from(st)
        dc.grid.set_size(n, n, n)
        dc.put_model_density_on_grid(st[0])
        values = numpy.array(dc.grid, copy=False)
        rng = numpy.random.default_rng(int(seed))
        values += rng.normal(0.0, noise * values.std(), values.shape).astype(numpy.float32)
        ccp4 = gemmi.Ccp4Map()
        ccp4.grid = dc.grid
        ccp4.update_ccp4_header()
        assert dc.grid.nu == n, (dc.grid.nu, n)
        ccp4.write_ccp4_map(sys.argv[3])
    elif sys.argv[1] == "expand":
        st = gemmi.read_structure(sys.argv[2])
        how = gemmi.HowToNameCopiedChain.Dup
        if sys.argv[3] == "ncs":
            st.expand_ncs(how)
            model = st[0]
        else:
            assembly = next(a for a in st.assemblies if a.name == sys.argv[3])
            multiply_products(sys.argv[2], assembly)
            model = gemmi.make_assembly(assembly, st[0], how)
        if len(sys.argv) > 4:
            out = gemmi.Structure()
            out.cell = st.cell
            out.add_model(model)
            out.setup_entities()
            out.write_pdb(sys.argv[4]) if sys.argv[4].endswith(".pdb") else out.make_mmcif_document().write_file(sys.argv[4])
        print(json.dumps({"atoms": model_atoms(model)}))
    else:
        sys.exit("usage: gemmi_model.py dump MODEL... | convert IN OUT.cif OUT.pdb | symmetry MODEL | expand MODEL ncs|ID [OUT]")


if __name__ == "__main__":
    main()
