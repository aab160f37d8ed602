#!/usr/bin/python3
"""Write the small HDF5 fixtures used by bfm/hdf5 and bfm/read_bfm2017.go tests.

Run with Debian's interpreter (it has h5py and numpy):

    /usr/bin/python3 scripts/make_h5_fixtures.py

Outputs (bfm/testdata/):
  h5_bfm2017_contig.h5   BFM-2017-like model, default libver (superblock 0,
                         object header v1, symbol-table groups), contiguous data.
  h5_bfm2017_chunked.h5  same model, chunked + shuffle + gzip (v1 B-tree index).
  h5_bfm2017_latest.h5   same model, libver='latest' (superblock 3, object
                         header v2, link messages), fixed-length landmark JSON.
  h5_bfm2017_dense.h5    same model, libver='latest', shape/model holds 40
                         extra members (dense link storage: fractal heap +
                         v2 B-tree name index).
  h5_bfm2017_prescaled.h5  basis stored as U*sqrt(variance), triangles
                         wound clockwise seen from +z.
  h5_bfm2017_badnorm.h5  shape basis stored as 3*U (neither convention).
  h5_types.h5            datatype / layout coverage, default libver.
  h5_types_v108.h5       the same content with libver='v108' (superblock 2).
  h5_types_latest.h5     the same content with libver='latest'.
  h5_truncated.h5        the first 1000 bytes of h5_bfm2017_contig.h5.
  h5_expected.json       every dataset's shape and exact values: "_model"
                         for the h5_bfm2017_* files and "_types" for the
                         h5_types* files, then per file the entries that
                         differ or are added.

Everything is generated from numpy.random.RandomState(2017): no data from
any real model is used.
"""
import json
import os

import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bfm", "testdata")

N_POINTS = 30
K_SHAPE = 4
K_EXPR = 3
K_COLOR = 2

# Landmark ids as in the BFM 2017 metadata (anatomical left/right), plus one
# id the reader does not map to any scheme.
LANDMARK_IDS = [
    "center.nose.tip",
    "center.chin.tip",
    "right.eye.corner_outer",
    "right.eye.corner_inner",
    "left.eye.corner_inner",
    "left.eye.corner_outer",
    "right.nose.wing_tip",
    "left.nose.wing_tip",
    "right.lips.corner",
    "left.lips.corner",
    "center.forehead.some_point",
]


def new_file(path, libver):
    """Create a file whose objects carry no timestamps, so that the output
    is byte-for-byte reproducible (h5py.File and create_group would record
    creation times)."""
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    low = {"earliest": h5py.h5f.LIBVER_EARLIEST, "v108": h5py.h5f.LIBVER_V18,
           "latest": h5py.h5f.LIBVER_LATEST}[libver]
    fapl.set_libver_bounds(low, h5py.h5f.LIBVER_LATEST)
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    return h5py.File(fid)


def group(parent, path):
    """parent.require_group(path) without timestamps."""
    g = parent
    for name in path.split("/"):
        if name in g:
            g = g[name]
            continue
        gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        gcpl.set_obj_track_times(False)
        g = h5py.Group(h5py.h5g.create(g.id, name.encode(), gcpl=gcpl))
    return g


def grid_points():
    """A 6 x 5 bump facing +z, in mm: points (3, N), triangles (3, M)."""
    rows, cols = 6, 5
    pts = []
    for r in range(rows):
        for c in range(cols):
            x = (c - (cols - 1) / 2) * 20.0
            y = ((rows - 1) / 2 - r) * 20.0
            z = 50.0 - 0.004 * (x * x + y * y)
            pts.append((x, y, z))
    pts = np.array(pts, dtype=np.float64).T  # 3 x N
    tris = []
    for r in range(rows - 1):
        for c in range(cols - 1):
            a = r * cols + c
            b = a + 1
            d = a + cols
            e = d + 1
            # Row index grows downwards (y decreases): a, d, b is
            # counter-clockwise seen from +z.
            tris.append((a, d, b))
            tris.append((b, d, e))
    return pts, np.array(tris, dtype=np.int32).T  # 3 x M


def orthonormal(rng, rows, k):
    q, _ = np.linalg.qr(rng.standard_normal((rows, k)))
    return q


def model_arrays():
    rng = np.random.RandomState(2017)
    pts, cells = grid_points()
    n = pts.shape[1]
    mean = pts.T.reshape(-1)  # x,y,z per vertex
    out = {}
    out["points"] = pts.astype(np.float32)
    out["cells"] = cells
    out["shape_mean"] = mean.astype(np.float32)
    out["shape_basis"] = orthonormal(rng, 3 * n, K_SHAPE).astype(np.float32)
    out["shape_var"] = np.array([400.0, 100.0, 25.0, 4.0], dtype=np.float32)
    out["expr_mean"] = (0.1 * rng.standard_normal(3 * n)).astype(np.float32)
    out["expr_basis"] = orthonormal(rng, 3 * n, K_EXPR).astype(np.float32)
    out["expr_var"] = np.array([9.0, 2.25, 1.0], dtype=np.float32)
    out["color_mean"] = rng.uniform(0.2, 0.8, 3 * n).astype(np.float32)
    out["color_basis"] = orthonormal(rng, 3 * n, K_COLOR).astype(np.float32)
    out["color_var"] = np.array([0.01, 0.0025], dtype=np.float32)
    # Landmarks at vertices (with a little offset so nearest-vertex matters).
    verts = [12, 27, 6, 8, 9, 5, 16, 18, 21, 23, 2]
    lms = []
    for lid, v in zip(LANDMARK_IDS, verts):
        p = pts[:, v] + np.array([0.25, -0.5, 0.125])
        lms.append({"id": lid, "coordinates": [float(p[0]), float(p[1]), float(p[2])],
                    "uncertainty": 1.0})
    out["landmarks"] = json.dumps(lms)
    out["landmark_vertices"] = dict(zip(LANDMARK_IDS, verts))
    out["landmark_coords"] = {d["id"]: d["coordinates"] for d in lms}
    return out


def write_model(path, a, libver="earliest", chunked=False, fixed_json=False, extra=0,
                basis_scale=None):
    """basis_scale: None stores the orthonormal basis (as Statismo does);
    "sigma" stores U*sqrt(variance) and winds the triangles clockwise; a
    number multiplies U by it (neither convention: the reader must refuse)."""
    a = dict(a)
    if basis_scale == "sigma":
        for p in ("shape", "expr", "color"):
            a[p + "_basis"] = (a[p + "_basis"] * np.sqrt(a[p + "_var"])).astype(np.float32)
        a["cells"] = a["cells"][[0, 2, 1], :]
    elif basis_scale is not None:
        a["shape_basis"] = (a["shape_basis"] * basis_scale).astype(np.float32)
    kw = {}
    if chunked:
        kw = dict(shuffle=True, compression="gzip", compression_opts=6)

    def ds(g, name, data, chunks=None):
        if chunked and np.asarray(data).ndim > 0 and np.asarray(data).size > 1:
            if chunks is None:
                chunks = tuple(max(1, (s + 2) // 3) for s in np.asarray(data).shape)
            return g.create_dataset(name, data=data, chunks=chunks, **kw)
        return g.create_dataset(name, data=data)

    with new_file(path, libver) as f:
        for part, prefix, k in (("shape", "shape", K_SHAPE), ("color", "color", K_COLOR),
                                ("expression", "expr", K_EXPR)):
            m = group(f, part + "/model")
            ds(m, "mean", a[prefix + "_mean"])
            ds(m, "pcaBasis", a[prefix + "_basis"], chunks=(7, min(3, k)) if chunked else None)
            ds(m, "pcaVariance", a[prefix + "_var"])
            m.create_dataset("noiseVariance", data=np.float32(0.0))
            r = group(f, part + "/representer")
            ds(r, "points", a["points"])
            ds(r, "cells", a["cells"])
            r.attrs["name"] = "bfm-like"
            if part == "shape":
                for i in range(extra):
                    m.create_dataset("extra_%03d" % i, data=np.int32(i))
        lg = group(f, "metadata/landmarks")
        if fixed_json:
            lg.create_dataset("json", data=np.bytes_(a["landmarks"].encode()))
        elif chunked:  # text as a 1-D uint8 array, as some writers store it
            lg.create_dataset("json", data=np.frombuffer(a["landmarks"].encode(), dtype=np.uint8))
        else:
            lg.create_dataset("json", data=a["landmarks"])
        f.attrs["version"] = "bfm2017-fixture"


def expected_model(a):
    e = {}
    for prefix, part in (("shape", "shape"), ("color", "color"), ("expr", "expression")):
        for key, name in (("_mean", "mean"), ("_basis", "pcaBasis"), ("_var", "pcaVariance")):
            arr = a[prefix + key]
            e["/%s/model/%s" % (part, name)] = {
                "shape": list(arr.shape), "values": [float(v) for v in arr.reshape(-1)]}
        e["/%s/model/noiseVariance" % part] = {"shape": [], "values": [0.0]}
        e["/%s/representer/points" % part] = {
            "shape": list(a["points"].shape), "values": [float(v) for v in a["points"].reshape(-1)]}
        e["/%s/representer/cells" % part] = {
            "shape": list(a["cells"].shape), "values": [float(v) for v in a["cells"].reshape(-1)]}
    e["/metadata/landmarks/json"] = {"shape": [], "strings": [a["landmarks"]]}
    return e


def write_types(path, libver):
    rng = np.random.RandomState(7)
    e = {}

    def rec(name, arr):
        arr = np.asarray(arr)
        e["/" + name] = {"shape": list(arr.shape), "values": [float(v) for v in arr.reshape(-1)]}

    with new_file(path, libver) as f:
        ints = {
            "i8": np.array([-128, -1, 0, 1, 127], dtype="<i1"),
            "u8": np.array([0, 1, 200, 255], dtype="<u1"),
            "i16be": np.array([-32768, -2, 3, 32767], dtype=">i2"),
            "u16": np.array([0, 65535, 1234], dtype="<u2"),
            "i32": np.array([-2147483648, -5, 6, 2147483647], dtype="<i4"),
            "u32be": np.array([0, 4294967295, 77], dtype=">u4"),
            "i64": np.array([-(2 ** 53), -9, 10, 2 ** 53], dtype="<i8"),
            "u64be": np.array([0, 2 ** 53, 12345678901], dtype=">u8"),
        }
        g = group(f, "ints")
        for k, v in ints.items():
            g.create_dataset(k, data=v)
            rec("ints/" + k, v)
        g = group(f, "floats")
        for k, dt in (("f32le", "<f4"), ("f32be", ">f4"), ("f64le", "<f8"), ("f64be", ">f8")):
            v = rng.standard_normal((3, 4)).astype(dt)
            g.create_dataset(k, data=v)
            rec("floats/" + k, v)
        v = np.array([np.inf, -np.inf, 0.0, -0.0, 1e-40], dtype="<f4")
        g.create_dataset("special", data=v)
        e["/floats/special"] = {"shape": [5], "values": ["+Inf", "-Inf", 0.0, "-0", float(v[4])]}
        v = np.float64(3.25)
        g.create_dataset("scalar", data=v)
        e["/floats/scalar"] = {"shape": [], "values": [3.25]}

        g = group(f, "layouts")
        v = np.arange(24, dtype="<f8").reshape(2, 3, 4) * 0.5
        # h5py has no compact switch in create_dataset: use the low-level API.
        sid = h5py.h5s.create_simple(v.shape)
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        dcpl.set_obj_track_times(False)
        dsid = h5py.h5d.create(g.id, b"compact", h5py.h5t.IEEE_F64LE, sid, dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, v)
        dsid.close()
        rec("layouts/compact", v)
        v3 = rng.standard_normal((5, 7, 3)).astype("<f4")
        g.create_dataset("chunked3d", data=v3, chunks=(2, 3, 2))
        rec("layouts/chunked3d", v3)
        g.create_dataset("gzip_shuffle", data=v3, chunks=(4, 4, 3), shuffle=True,
                         compression="gzip", compression_opts=9)
        rec("layouts/gzip_shuffle", v3)
        g.create_dataset("fletcher", data=v3, chunks=(5, 7, 3), fletcher32=True,
                         compression="gzip")
        rec("layouts/fletcher", v3)
        # Sparse: only some chunks written, the rest is the fill value.
        d = g.create_dataset("sparse", shape=(6, 6), dtype="<i4", chunks=(2, 2), fillvalue=-7)
        d[0:2, 0:2] = 1
        d[4:6, 2:4] = 2
        rec("layouts/sparse", d[()])
        d = g.create_dataset("unwritten", shape=(3,), dtype="<f8")
        rec("layouts/unwritten", np.zeros(3))
        d = g.create_dataset("resizable", shape=(5,), maxshape=(None,), dtype="<f8", chunks=(2,))
        d[...] = np.arange(5) + 0.25
        rec("layouts/resizable", d[()])
        # Growable datasets: under libver='latest' one unlimited dimension
        # gives an extensible-array chunk index, two give a v2 B-tree.
        g2 = group(f, "growable")
        v = np.arange(1000, dtype="<f8") * 0.5 - 3
        g2.create_dataset("ea_many", data=v, maxshape=(None,), chunks=(2,))
        rec("growable/ea_many", v)
        v = rng.standard_normal((301, 3)).astype("<f4")
        g2.create_dataset("ea_gzip", data=v, maxshape=(None, 3), chunks=(4, 3),
                          compression="gzip", shuffle=True)
        rec("growable/ea_gzip", v)
        d = g2.create_dataset("ea_holes", shape=(100,), maxshape=(None,), chunks=(3,),
                              dtype="<i2", fillvalue=5)
        d[0:10] = np.arange(10)
        d[50:61] = -np.arange(11)
        rec("growable/ea_holes", d[()])
        v = np.arange(40, dtype="<i4").reshape(4, 10)
        g2.create_dataset("ea_dim1", data=v, maxshape=(4, None), chunks=(2, 3))
        rec("growable/ea_dim1", v)
        g2.create_dataset("bt2", data=v, maxshape=(None, None), chunks=(2, 3))
        rec("growable/bt2", v)
        v = rng.standard_normal((37, 29)).astype("<f8")
        g2.create_dataset("bt2_gzip", data=v, maxshape=(None, None), chunks=(3, 4),
                          compression="gzip")
        rec("growable/bt2_gzip", v)
        v = np.arange(5, dtype="<u2")
        g2.create_dataset("fa_maxshape", data=v, maxshape=(11,), chunks=(2,))
        rec("growable/fa_maxshape", v)
        d = g.create_dataset("empty", shape=(0, 3), dtype="<f4")
        e["/layouts/empty"] = {"shape": [0, 3], "values": []}

        g = group(f, "strings")
        g.create_dataset("vlen_scalar", data="héllo wörld")
        e["/strings/vlen_scalar"] = {"shape": [], "strings": ["héllo wörld"]}
        arr = ["alpha", "", "gamma delta", "ε"]
        g.create_dataset("vlen_1d", data=arr, dtype=h5py.string_dtype())
        e["/strings/vlen_1d"] = {"shape": [4], "strings": arr}
        g.create_dataset("fixed_1d", data=np.array([b"ab", b"cdef", b""], dtype="S4"))
        e["/strings/fixed_1d"] = {"shape": [3], "strings": ["ab", "cdef", ""]}
        g.create_dataset("fixed_scalar", data=np.bytes_(b"xyz"))
        e["/strings/fixed_scalar"] = {"shape": [], "strings": ["xyz"]}
        g.create_dataset("ascii_vlen", data=[b"one", b"two"], dtype=h5py.string_dtype("ascii"))
        e["/strings/ascii_vlen"] = {"shape": [2], "strings": ["one", "two"]}
        # Attributes: 12 on one group (dense storage under libver='latest').
        g = group(f, "attrs")
        for i in range(12):
            g.attrs["a%02d" % i] = np.int16(i)
        g.attrs["arr"] = np.array([1.5, -2.25], dtype=">f8")
        f.create_dataset("compound", data=np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]))
        f["soft"] = h5py.SoftLink("/floats/f32le")
        rec("soft", f["floats/f32le"][()])
    return e


def main():
    os.makedirs(OUT, exist_ok=True)
    a = model_arrays()
    exp = {}
    em = expected_model(a)
    for name, kw in (("h5_bfm2017_contig.h5", {}),
                     ("h5_bfm2017_chunked.h5", {"chunked": True}),
                     ("h5_bfm2017_latest.h5", {"libver": "latest", "fixed_json": True}),
                     ("h5_bfm2017_dense.h5", {"libver": "latest", "extra": 40}),
                     ("h5_bfm2017_prescaled.h5", {"basis_scale": "sigma"}),
                     ("h5_bfm2017_badnorm.h5", {"basis_scale": 3.0})):
        path = os.path.join(OUT, name)
        write_model(path, a, **kw)
        if "basis_scale" in kw:
            continue
        e = {}  # entries that differ from "_model"
        if kw.get("chunked"):
            raw = np.frombuffer(a["landmarks"].encode(), dtype=np.uint8)
            e["/metadata/landmarks/json"] = {"shape": [len(raw)], "values": [float(x) for x in raw]}
        if kw.get("extra"):
            for i in range(kw["extra"]):
                e["/shape/model/extra_%03d" % i] = {"shape": [], "values": [float(i)]}
        exp[name] = e
    exp["_model"] = em
    for name, lv in (("h5_types.h5", "earliest"), ("h5_types_v108.h5", "v108"),
                     ("h5_types_latest.h5", "latest")):
        et = write_types(os.path.join(OUT, name), lv)
        if "_types" in exp and exp["_types"] != et:
            raise SystemExit("type fixtures differ between libver settings")
        exp["_types"] = et
        exp[name] = {}
    with open(os.path.join(OUT, "h5_bfm2017_contig.h5"), "rb") as fh:
        head = fh.read(1000)
    with open(os.path.join(OUT, "h5_truncated.h5"), "wb") as fh:
        fh.write(head)
    meta = {"landmark_vertices": a["landmark_vertices"],
            "landmark_coords": a["landmark_coords"],
            "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version}
    exp["_bfm2017"] = meta
    tmp = os.path.join(OUT, "h5_expected.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(exp, fh, sort_keys=True, separators=(",", ":"))
    os.replace(tmp, os.path.join(OUT, "h5_expected.json"))


if __name__ == "__main__":
    main()
