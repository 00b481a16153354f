#!/usr/bin/env python3
"""make_case.py OUT: the symmetric-shell case of benches/symmetric_shell.rs.

A 60-copy icosahedral shell (RELION/servalcat's I2 about the centre of a 512^3 box of 1.1 A
voxels) of a unit of about 11,000 atoms: two copies of the synthetic 4a7h model of ../shared
(chains C and D, side by side). The map is gemmi's electron density of the 60 full units at
3 A with Gaussian noise of 0.1 times its sd; the models lack the three C-terminal residues of
each chain (HIS 583, TYR 584, VAL 585, as ../shared/synthetic/4a7h/model_trunc.pdb), so each
is missing from every copy.

Writes map.mrc, unit.pdb (one unit and 60 MTRIX records: the identity given, 59 to generate,
as a deposited one-copy file holds them, read by servalcat fofc and by us), shell.cif (the 60
units as one file, gemmi's expand_ncs of unit.pdb) and case.json (sizes, radius, the closest
approach of two copies). Needs gemmi, numpy, scipy and servalcat (the reference venv).
"""
import json
import os
import sys

import gemmi
import numpy as np
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation
from servalcat.utils import symmetry

N, SPACING, D_MIN, NOISE, SEED = 512, 1.1, 3.0, 0.1, 5
SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared")


def unit(path):
    """Two copies of the 4a7h chain, C as read and D beside it, as (lines, coordinates)."""
    lines = [l.rstrip("\n") for l in open(path) if l.startswith(("ATOM", "HETATM"))]
    xyz = np.array([[float(l[30:38]), float(l[38:46]), float(l[46:54])] for l in lines])
    return lines, xyz


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    full_lines, full_xyz = unit(os.path.join(SHARED, "synthetic/4a7h/model_full.pdb"))
    trunc_lines, trunc_xyz = unit(os.path.join(SHARED, "synthetic/4a7h/model_trunc.pdb"))
    centroid = full_xyz.mean(0)
    # D: C turned by 180 degrees about y and moved along x by the chain's extent, so they touch.
    turn = np.array([[-1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]])
    width = np.ptp(full_xyz[:, 0]) * 0.8
    place_d = lambda p: (p - centroid) @ turn.T + centroid + np.array([width, 0, 0])
    unit_full = np.concatenate([full_xyz, place_d(full_xyz)])
    unit_trunc = np.concatenate([trunc_xyz, place_d(trunc_xyz)])
    unit_full_mean = unit_full.mean(0)
    centre = np.full(3, N * SPACING / 2)  # the centre of voxel N/2, where symmetry= puts it
    # servalcat's operators for `I` (its third item: the rotation matrices).
    rotations = [np.array(m.tolist()) for m in symmetry.operators_from_symbol("I")[2]]
    assert len(rotations) == 60 and np.allclose(rotations[0], np.eye(3))
    # The unit turned and placed so that no two copies come closer than 3 A, at the smallest
    # outer radius found over 40 seeded orientations and directions (radii in 5 A steps): the
    # 117 x 108 x 71 A unit needs a wide shell.
    unit_full -= unit_full.mean(0)
    unit_trunc -= unit_full_mean
    sample = unit_full[::9]
    best = None
    for seed in range(40):
        direction = np.random.default_rng(seed).normal(size=3)
        direction /= np.linalg.norm(direction)
        turn_unit = Rotation.random(random_state=seed).as_matrix()
        turned = sample @ turn_unit.T
        for radius in range(120, 215, 5):
            copies = [(turned + radius * direction) @ r.T for r in rotations]
            tree = cKDTree(copies[0])
            closest = min(tree.query(c)[0].min() for c in copies[1:])
            if closest > 3.0:
                outer = np.linalg.norm(unit_full @ turn_unit.T + radius * direction, axis=1).max()
                if best is None or outer < best[0]:
                    best = (outer, radius, closest, turn_unit, direction)
                break
    outer, radius, closest, turn_unit, direction = best
    unit_full = unit_full @ turn_unit.T + centre + radius * direction
    unit_trunc = unit_trunc @ turn_unit.T + centre + radius * direction
    shift = np.zeros(3)
    assert outer < N * SPACING / 2 - 5, ("the shell does not fit the box", outer)

    def pdb_lines(lines, xyz):
        text = []
        for k, (l, p) in enumerate(zip(lines * 2, xyz)):
            chain = "C" if k < len(lines) else "D"
            text.append(l[:21] + chain + l[22:30] + "%8.3f%8.3f%8.3f" % tuple(p) + l[54:])
        return text

    mtrix = []
    for k, r in enumerate(rotations):
        t = centre - r @ centre
        for row in range(3):
            a, b, c = r[row]
            given = "1" if k == 0 else " "
            mtrix.append("MTRIX%d%4d%10.6f%10.6f%10.6f%15.5f    %s" % (row + 1, k + 1, a, b, c, t[row], given))
    cryst = "CRYST1%9.3f%9.3f%9.3f  90.00  90.00  90.00 P 1           1" % ((N * SPACING,) * 3)
    header = ["EXPDTA    ELECTRON MICROSCOPY", "REMARK   2 RESOLUTION. %.2f ANGSTROMS." % D_MIN, cryst]
    with open(os.path.join(out, "unit.pdb"), "w") as f:
        f.write("\n".join(header + mtrix + pdb_lines(trunc_lines, unit_trunc + shift) + ["END"]) + "\n")
    with open(os.path.join(out, "unit_full.pdb"), "w") as f:
        f.write("\n".join(header + mtrix + pdb_lines(full_lines, unit_full + shift) + ["END"]) + "\n")

    # The expanded file (gemmi's expand_ncs of unit.pdb) and the map of the full shell.
    st = gemmi.read_structure(os.path.join(out, "unit.pdb"))
    st.expand_ncs(gemmi.HowToNameCopiedChain.Short)
    st.setup_entities()
    st.make_mmcif_document().write_file(os.path.join(out, "shell.cif"))
    shell_atoms = st[0].count_atom_sites()
    truth = gemmi.read_structure(os.path.join(out, "unit_full.pdb"))
    truth.expand_ncs(gemmi.HowToNameCopiedChain.Short)
    truth.cell = gemmi.UnitCell(*(N * SPACING,) * 3, 90, 90, 90)
    dc = gemmi.DensityCalculatorE()
    dc.d_min = D_MIN
    dc.rate = D_MIN / (2 * SPACING)
    dc.grid.setup_from(truth)
    dc.grid.set_size(N, N, N)
    dc.put_model_density_on_grid(truth[0])
    values = np.array(dc.grid, copy=False)
    values += np.random.default_rng(SEED).normal(0.0, NOISE * values.std(), values.shape).astype(np.float32)
    ccp4 = gemmi.Ccp4Map()
    ccp4.grid = dc.grid
    ccp4.update_ccp4_header()
    ccp4.write_ccp4_map(os.path.join(out, "map.mrc"))
    os.remove(os.path.join(out, "unit_full.pdb"))
    case = {"voxels": N, "voxel_size": SPACING, "resolution": D_MIN, "radius": radius,
            "outer_radius": float(outer), "closest_copies": float(closest), "unit_atoms": len(unit_trunc), "shell_atoms": shell_atoms}
    json.dump(case, open(os.path.join(out, "case.json"), "w"), indent=1)
    print(case)


if __name__ == "__main__":
    main()
