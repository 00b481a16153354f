#!/usr/bin/env python3
"""make_symmetric_example.py OUT: the small symmetric entry in testdata/symmetric/.

A C3 trimer of the spike N-terminal-domain segment of testdata/ (6vyb_Ndom.pdb, with its three
N-linked NAG), as a point-group particle is deposited: the map holds all three copies, the
model file one copy without the NAG plus the REMARK 350 BIOMT operators that make the trimer.
The segment is moved so that its centroid lies RADIUS A from a 3-fold axis along z through the
centre of a 120 A box (RADIUS is the smallest that keeps the copies 3.5 A apart); the map is
gemmi's electron density of the trimer at D_MIN, on 2 A voxels (60^3, origin 0), with Gaussian
noise of NOISE times its sd.

Writes map.mrc (float32), model.pdb (one copy, no NAG, REMARK 350 for assembly 1) and
trimer_removed_nag.json (the nine removed NAG, as check_peaks.py reads). Needs gemmi and numpy
(scripts/install_test_tools.sh puts them in .venv-test).
"""
import json
import math
import os
import sys

import gemmi
import numpy as np

EDGE, SPACING, D_MIN, NOISE, SEED = 120.0, 2.0, 5.0, 0.1, 31
HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "testdata")


def rotation_z(degrees):
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    st = gemmi.read_structure(os.path.join(TESTDATA, "6vyb_Ndom.pdb"))
    xyz = np.array([a.pos.tolist() for r in st[0]["A"] for a in r])
    centre = np.array([EDGE / 2, EDGE / 2, EDGE / 2])
    rotations = [rotation_z(a) for a in (0.0, 120.0, 240.0)]
    # Radius: the smallest whole number of Å that keeps the copies 3.5 Å apart.
    for radius in range(10, 60):
        shift = centre + np.array([radius, 0.0, 0.0]) - xyz.mean(0)
        unit = xyz + shift
        second = (unit - centre) @ rotations[1].T + centre
        d2 = ((unit[:, None, :] - second[None, ::4, :]) ** 2).sum(-1)
        if d2.min() > 3.5**2:
            break
    extent = np.abs(np.concatenate([(unit - centre) @ r.T for r in rotations])).max(0)
    assert (extent < EDGE / 2 - 4).all(), ("the trimer does not fit the box", extent)
    operators = [(r, centre - r @ centre) for r in rotations]

    # The trimer, NAG included: the truth the map is made from.
    trimer = gemmi.Structure()
    trimer.cell = gemmi.UnitCell(EDGE, EDGE, EDGE, 90, 90, 90)
    model = gemmi.Model("1")
    removed = {"groups": [], "voxel": SPACING}
    for n, (r, t) in enumerate(operators):
        chain = gemmi.Chain("ABC"[n])
        for res in st[0]["A"]:
            copy = res.clone()
            for atom in copy:
                p = r @ (np.array(atom.pos.tolist()) + shift) + t
                atom.pos = gemmi.Position(*p)
            chain.add_residue(copy)
            if res.name == "NAG":
                removed["groups"].append({
                    "name": f"NAG {chain.name}{res.seqid.num} (copy {n + 1})",
                    "atoms": [{"name": a.name, "xyz": [a.pos.x, a.pos.y, a.pos.z]} for a in copy],
                })
        model.add_chain(chain)
    trimer.add_model(model)
    n = int(round(EDGE / SPACING))
    dc = gemmi.DensityCalculatorE()
    dc.d_min = D_MIN
    dc.rate = D_MIN / (2 * SPACING)
    dc.grid.setup_from(trimer)
    dc.grid.set_size(n, n, n)
    dc.put_model_density_on_grid(trimer[0])
    values = np.array(dc.grid, copy=False)
    values += np.random.default_rng(SEED).normal(0.0, NOISE * values.std(), values.shape).astype(np.float32)
    ccp4 = gemmi.Ccp4Map()
    ccp4.grid = dc.grid
    ccp4.update_ccp4_header()
    assert dc.grid.nu == n
    ccp4.write_ccp4_map(os.path.join(out, "map.mrc"))

    # The model as deposited: one copy, without the NAG, with the assembly's operators.
    lines = ["EXPDTA    ELECTRON MICROSCOPY", "REMARK   2 RESOLUTION. %.2f ANGSTROMS." % D_MIN,
             "REMARK 350 BIOMOLECULE: 1",
             "REMARK 350 APPLY THE FOLLOWING TO CHAINS: A"]
    for k, (r, t) in enumerate(operators):
        for row in range(3):
            a, b, c = r[row]
            lines.append("REMARK 350   BIOMT%d%4d%10.6f%10.6f%10.6f%15.5f" % (row + 1, k + 1, a, b, c, t[row]))
    lines.append("CRYST1%9.3f%9.3f%9.3f  90.00  90.00  90.00 P 1           1" % (EDGE, EDGE, EDGE))
    serial = 0
    for line in open(os.path.join(TESTDATA, "6vyb_Ndom_noNAG.pdb")):
        if line.startswith(("ATOM", "HETATM")):
            p = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])]) + shift
            serial += 1
            lines.append(line[:30] + "%8.3f%8.3f%8.3f" % tuple(p) + line[54:].rstrip("\n"))
        elif line.startswith("TER"):
            lines.append("TER")
    lines.append("END")
    with open(os.path.join(out, "model.pdb"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "trimer_removed_nag.json"), "w") as f:
        json.dump(removed, f, indent=1)
    print(f"radius {radius} A, {serial} atoms per copy, {n}^3 voxels of {SPACING} A, "
          f"{len(removed['groups'])} NAG removed")


if __name__ == "__main__":
    main()
