#!/usr/bin/env python3
"""make_ligand_example.py SHARED OUT: the small example in testdata/ligand_pocket/.

A synthetic entry whose model is exact except for one heme that sits in a crowded region: the
shared tool ../shared/tools/make_large_case.py tiles 27 copies of the synthetic 1ahq_heme case
(3 x 3 x 3, 120^3 voxels of 1.05 A, 3.2 A, two independent half maps with noise everywhere) and
removes the heme of the corner copy and of the central copy; this script crops a 44^3 box
around the central copy's heme, whose every neighbourhood holds model density (its own protein
and the copies around it), and keeps the residues with an atom in the box (plus 3 A).

Writes map.mrc, half1.mrc, half2.mrc, truth_removed.mrc (float32, the crop's position in
NSTART), model.pdb, model.cif and removed_atoms.json. Needs gemmi, mrcfile, numpy and scipy
(../shared/tools/reference/setup.sh installs them).
"""
import json, os, subprocess, sys, tempfile
import numpy as np, gemmi, mrcfile

shared, out = sys.argv[1], sys.argv[2]
BOX = 44
os.makedirs(out, exist_ok=True)
work = tempfile.mkdtemp()
subprocess.run([sys.executable, os.path.join(shared, "tools", "make_large_case.py"), work,
                "--box", "120", "--copies", "27", "--resolution", "3.2", "--seed", "7"], check=True)
removed = json.load(open(os.path.join(work, "removed_atoms.json")))
central = removed["groups"][1]
heme = np.array([a["xyz"] for a in central["atoms"]])
voxel = removed["voxel"]
start = np.round(heme.mean(0) / voxel - BOX / 2).astype(int)


def crop(name):
    with mrcfile.open(os.path.join(work, name)) as m:
        data = m.data[start[2]:start[2] + BOX, start[1]:start[1] + BOX, start[0]:start[0] + BOX]
        with mrcfile.new(os.path.join(out, name), overwrite=True) as o:
            o.set_data(np.ascontiguousarray(data, dtype=np.float32))
            o.header.nxstart, o.header.nystart, o.header.nzstart = (int(v) for v in start)
            o.header.mx, o.header.my, o.header.mz = m.header.mx, m.header.my, m.header.mz
            o.header.cella = m.header.cella
            o.header.cellb.alpha = o.header.cellb.beta = o.header.cellb.gamma = 90.0
            o.update_header_stats()


for name in ("map.mrc", "half1.mrc", "half2.mrc", "truth_removed.mrc"):
    crop(name)
lo, hi = start * voxel - 3.0, (start + BOX) * voxel + 3.0
st = gemmi.read_structure(os.path.join(work, "model.pdb"))
for chain in st[0]:
    for i in reversed(range(len(chain))):
        inside = any(np.all((np.array(a.pos.tolist()) >= lo) & (np.array(a.pos.tolist()) <= hi)) for a in chain[i])
        if not inside:
            del chain[i]
st.remove_empty_chains()
st.setup_entities()
st.write_pdb(os.path.join(out, "model.pdb"))
st.make_mmcif_document().write_file(os.path.join(out, "model.cif"))
json.dump({"source": "make_large_case.py --box 120 --copies 27 --resolution 3.2 --seed 7, cropped",
           "box_start_voxels": [int(v) for v in start], "box": BOX, "voxel": voxel, "resolution": 3.2,
           "ligand_removed_model": "model.pdb", "groups": [central]},
          open(os.path.join(out, "removed_atoms.json"), "w"), indent=1)
print(f"{out}: {BOX}^3 crop from voxel {start.tolist()}, {st[0].count_atom_sites()} atoms")
