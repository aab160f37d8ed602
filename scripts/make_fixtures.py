#!/usr/bin/python3
"""Writes the small MAT, eos, OBJ and .anl fixtures of bfm/testdata.

Run with Debian's python3 (numpy + scipy):  /usr/bin/python3 scripts/make_fixtures.py
Everything is synthetic (seeded), so the files are ours and may be committed.
Each fixture family has a JSON file next to it with the values the Go tests
expect. HDF5 fixtures live in scripts/make_h5_fixtures.py.
"""
import json
import os
import struct

import numpy as np
import scipy.io
import scipy.sparse

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bfm", "testdata")
rng = np.random.default_rng(20170101)


def path(name):
    return os.path.join(OUT, name)


def write_json(name, obj):
    with open(path(name), "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
        f.write("\n")


def colmajor(a):
    return [float(x) for x in np.asarray(a).flatten(order="F")]


# ---------------------------------------------------------------- MAT classes
def mat_classes():
    v = {
        "d": np.arange(12, dtype=np.float64).reshape(3, 4) * 0.5 - 1.25,
        "s": np.array([[1.5, -2.25, 3.0], [1e-3, 6.5e4, -7.0]], dtype=np.float32),
        "i8": np.array([[-128, 0, 127]], dtype=np.int8),
        "u8": np.array([[0, 7, 255]], dtype=np.uint8),
        "i16": np.array([[-32768, 12, 32767]], dtype=np.int16),
        "u16": np.array([[0, 4242, 65535]], dtype=np.uint16),
        "i32": np.array([[-2147483648, 5, 2147483647]], dtype=np.int32),
        "u32": np.array([[0, 123456, 4294967295]], dtype=np.uint32),
        "i64": np.array([[-(2**40) - 3, 9, 2**40 + 3]], dtype=np.int64),
        "u64": np.array([[0, 11, 2**50 + 1]], dtype=np.uint64),
        "logi": np.array([[True, False, True, True]]),
        "vec": np.array([10.0, 20.0, 30.0, 40.0, 50.0]),  # 1-D: oned_as decides
        "txt": "hello MAT",
        "rows": np.array(["ab", "cd"]),
        "uni": "h\u00e9llo \u2713",
        "empty": np.zeros((0, 0)),
        "cplx": np.array([[1 + 2j, 3 - 4j]]),
        "st": {"a": 1.0, "b": "x"},
        "ce": np.array([[1.0, "two"]], dtype=object),
        "sp": scipy.sparse.csc_matrix(np.eye(3)),
        "cube": np.arange(24, dtype=np.float64).reshape(2, 3, 4),
    }
    expect = {}
    for name, a in v.items():
        if name in ("st", "ce", "sp"):
            continue
        e = {}
        if isinstance(a, str):
            e = {"class": "char", "dims": [1, len(a)], "text": a,
                 "data": [float(ord(c)) for c in a]}
        elif name == "rows":
            e = {"class": "char", "dims": [2, 2], "text": "ab\ncd",
                 "data": [float(ord(c)) for c in "acbd"]}
        else:
            arr = np.asarray(a)
            cls = {"float64": "double", "float32": "single", "bool": "logical",
                   "complex128": "double"}.get(str(arr.dtype), str(arr.dtype))
            dims = list(arr.shape)
            if arr.ndim == 1:
                dims = None  # depends on oned_as
            e = {"class": cls, "dims": dims, "data": colmajor(np.real(arr).astype(np.float64))}
        expect[name] = e
    for comp in (False, True):
        for oned in ("row", "column"):
            fn = "mat_classes_%s_%s.mat" % ("z" if comp else "raw", oned)
            scipy.io.savemat(path(fn), v, do_compression=comp, oned_as=oned)
    expect["vec_dims"] = {"row": [1, 5], "column": [5, 1]}
    expect["skipped"] = ["st", "ce", "sp"]
    write_json("mat_classes.json", expect)


# ---------------------------------------------------------- BFM-2009-like model
def grid_triangles(rows, cols):
    """Counter-clockwise (seen from +z) triangles of a rows x cols vertex grid
    laid out with x = col, y = -row (row 0 on top)."""
    t = []
    for r in range(rows - 1):
        for c in range(cols - 1):
            a, b = r * cols + c, r * cols + c + 1
            d, e = (r + 1) * cols + c, (r + 1) * cols + c + 1
            t.append([a, d, b])
            t.append([b, d, e])
    return np.array(t, dtype=np.int64)


def bfm2009():
    rows, cols, k = 5, 8, 6
    n = rows * cols
    xs, ys = np.meshgrid(np.arange(cols) - 3.5, -(np.arange(rows) - 2.0))
    zs = 10.0 - 0.3 * (xs ** 2 + ys ** 2)
    mu_mm = np.stack([xs * 12.5, ys * 15.0, zs], axis=-1).reshape(-1)
    shape_mu = (mu_mm * 1000.0).astype(np.float32).reshape(-1, 1)  # micrometres
    q, _ = np.linalg.qr(rng.standard_normal((3 * n, k)))
    shape_pc = q.astype(np.float32)
    shape_ev = np.array([[5000.0], [3000.0], [2000.0], [1200.0], [800.0], [500.0]], dtype=np.float32)
    tl = (grid_triangles(rows, cols) + 1).astype(np.float64)  # 1-based, double as in BFM
    tex_mu = (rng.uniform(0, 255, size=(3 * n, 1))).astype(np.float32)
    d = {"shapeMU": shape_mu, "shapePC": shape_pc, "shapeEV": shape_ev, "tl": tl,
         "texMU": tex_mu, "texPC": np.zeros((3 * n, 2), np.float32),
         "texEV": np.ones((2, 1), np.float32), "segbin": np.ones((n, 4), np.uint8),
         "info": {"note": "synthetic BFM-2009-like fixture"}}
    scipy.io.savemat(path("mat_bfm2009_raw.mat"), d, do_compression=False)
    scipy.io.savemat(path("mat_bfm2009_z.mat"), d, do_compression=True)
    # The same model missing shapeEV, for error tests.
    bad = dict(d)
    del bad["shapeEV"]
    scipy.io.savemat(path("bad_bfm2009_noev.mat"), bad, do_compression=True)
    mean = shape_mu.astype(np.float64).reshape(-1) / 1000.0
    basis = [(shape_pc[:, j].astype(np.float64) * float(shape_ev[j, 0]) / 1000.0).tolist()
             for j in range(k)]
    write_json("mat_bfm2009.json", {
        "vertices": n, "components": k, "triangles": int(tl.shape[0]),
        "mean_mm": mean.tolist(), "basis_mm": basis,
        "tl0": (tl[:3] - 1).astype(int).tolist(),
        "albedo0": (tex_mu[:3, 0].astype(np.float64) / 255.0).tolist(),
    })

    # 3DDFA-like expression model over 30 of the 40 vertices.
    nt, ke = 30, 4
    mapping = np.sort(rng.choice(n, size=nt, replace=False)).astype(np.uint16)
    mu_exp = (rng.standard_normal((3 * nt, 1)) * 300.0).astype(np.float32)
    w_exp = rng.standard_normal((3 * nt, ke)).astype(np.float32)
    sigma_exp = np.array([[900.0], [400.0], [250.0], [100.0]], dtype=np.float32)
    scipy.io.savemat(path("mat_tddfa_exp.mat"), {"mu_exp": mu_exp, "w_exp": w_exp,
                                                 "sigma_exp": sigma_exp}, do_compression=True)
    scipy.io.savemat(path("mat_tddfa_map.mat"), {"map_tddfa_to_basel": mapping.reshape(1, -1)},
                     do_compression=False)
    full_mean = np.zeros(3 * n)
    full_basis = np.zeros((ke, 3 * n))
    for t, b in enumerate(mapping):
        full_mean[3 * b:3 * b + 3] = mu_exp[3 * t:3 * t + 3, 0].astype(np.float64) / 1000.0
        for j in range(ke):
            full_basis[j, 3 * b:3 * b + 3] = (w_exp[3 * t:3 * t + 3, j].astype(np.float64)
                                             * float(sigma_exp[j, 0]) / 1000.0)
    write_json("mat_tddfa.json", {"vertices": n, "components": ke,
                                  "map": mapping.astype(int).tolist(),
                                  "mean_mm": full_mean.tolist(),
                                  "basis_mm": full_basis.tolist()})


# ------------------------------------------------------------ eos / cereal
def c_u32(v):
    return struct.pack("<I", v)


def c_i32(v):
    return struct.pack("<i", v)


def c_u64(v):
    return struct.pack("<Q", v)


def c_bool(v):
    return struct.pack("<B", 1 if v else 0)


def c_str(s):
    b = s.encode()
    return c_u64(len(b)) + b


def c_mat(a):
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    return c_i32(a.shape[0]) + c_i32(a.shape[1]) + a.astype("<f4").tobytes(order="F")


def c_tris(t):
    return c_u64(len(t)) + b"".join(struct.pack("<3i", *map(int, r)) for r in t)


def c_pca(mean, basis, ev, tris):
    return c_mat(mean) + c_mat(basis) + c_mat(ev) + c_tris(tris)


def c_empty_pca():
    return c_mat(np.zeros((0, 0))) + c_mat(np.zeros((0, 0))) + c_mat(np.zeros((0, 0))) + c_tris([])


def eos_fixtures():
    rows, cols, k = 3, 4, 3
    n = rows * cols
    tris = grid_triangles(rows, cols)
    xs, ys = np.meshgrid(np.arange(cols) * 10.0, -np.arange(rows) * 10.0)
    mean = np.stack([xs, ys, np.zeros_like(xs)], axis=-1).reshape(-1).astype(np.float32)
    basis, _ = np.linalg.qr(rng.standard_normal((3 * n, k)))
    basis = basis.astype(np.float32)
    ev = np.array([400.0, 100.0, 25.0], dtype=np.float32)  # variances
    col_mean = rng.uniform(0, 1, size=3 * n).astype(np.float32)
    col_basis, _ = np.linalg.qr(rng.standard_normal((3 * n, 2)))
    col_ev = np.array([0.01, 0.004], dtype=np.float32)
    exp_basis, _ = np.linalg.qr(rng.standard_normal((3 * n, 2)))
    exp_basis = exp_basis.astype(np.float32)
    exp_ev = np.array([9.0, 4.0], dtype=np.float32)
    blends = [("smile", rng.standard_normal(3 * n).astype(np.float32)),
              ("frown", rng.standard_normal(3 * n).astype(np.float32))]
    uv = np.stack([np.tile(np.arange(cols) / (cols - 1), rows),
                   np.repeat(np.arange(rows) / (rows - 1), cols)], axis=-1)  # v down
    lms = [("1", 0), ("9", 5), ("31", 6), ("68", 11)]

    def shape():
        return c_pca(mean, basis, ev, tris)

    def texcoords():
        return c_u64(n) + b"".join(struct.pack("<2d", *r) for r in uv)

    def lmdefs():
        return c_bool(False) + c_u64(len(lms)) + b"".join(c_str(a) + c_i32(b) for a, b in lms)

    v2 = (c_u32(2) + shape() + c_empty_pca() + c_bool(False) + c_i32(0)
          + c_pca(np.zeros(3 * n), exp_basis, exp_ev, tris) + texcoords())
    blend_payload = c_u64(len(blends)) + b"".join(c_str(a) + c_mat(b) for a, b in blends)
    v3 = (c_u32(3) + shape() + c_pca(col_mean, col_basis, col_ev, tris)
          + c_bool(False) + c_i32(1) + blend_payload + lmdefs() + texcoords())
    ttris = tris[::-1]
    v4 = (c_u32(4) + shape() + c_empty_pca() + c_bool(True) + c_bool(True)
          + texcoords() + c_tris(ttris))
    v1 = c_u32(1) + shape() + c_empty_pca() + texcoords()
    for name, data in (("eos_v1.bin", v1), ("eos_v2_pca.bin", v2), ("eos_v3_blend.bin", v3),
                       ("eos_v4.bin", v4), ("eos_blendshapes.bin", blend_payload)):
        with open(path(name), "wb") as f:
            f.write(data)
    with open(path("bad_eos_truncated.bin"), "wb") as f:
        f.write(v2[:len(v2) // 2])
    with open(path("bad_eos_version.bin"), "wb") as f:
        f.write(c_u32(7) + v2[4:])
    write_json("eos.json", {
        "vertices": n, "triangles": len(tris), "tris0": tris[:2].tolist(),
        "mean": mean.astype(np.float64).tolist(),
        "basis": [(basis[:, j].astype(np.float64) * float(np.sqrt(np.float64(ev[j])))).tolist()
                  for j in range(k)],
        "exp_basis": [(exp_basis[:, j].astype(np.float64) * float(np.sqrt(np.float64(exp_ev[j])))).tolist()
                      for j in range(2)],
        "blend_names": [a for a, _ in blends],
        "blends": [b.astype(np.float64).tolist() for _, b in blends],
        "uv_ours": [[float(u), float(1 - v)] for u, v in uv],
        "albedo": col_mean.astype(np.float64).reshape(-1, 3).tolist(),
        "landmarks": {a: b for a, b in lms},
        "v4_texture_triangles": len(ttris),
    })


# ------------------------------------------------------------------ OBJ, .anl
def obj_anl():
    with open(path("obj_quads.obj"), "w") as f:
        f.write("# two quads and a triangle, mixed index forms\n")
        f.write("o fixture\n")
        for p in ([0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [1, 1, 0.5], [2, 1, 0]):
            f.write("v %g %g %g\n" % tuple(p))
        for t in ([0, 0], [0.5, 0], [1, 0], [0, 1], [0.5, 1], [1, 1]):
            f.write("vt %g %g\n" % tuple(t))
        f.write("vn 0 0 1\n")
        f.write("f 1/1/1 2/2/1 5/5/1 4/4/1\n")     # quad, v/vt/vn
        f.write("f -5/-5 -4/-4 -1/-1 -2/-2\n")     # quad, negative indices (2 3 6 5)
        f.write("f 1//1 2//1 4//1\n")              # triangle, v//vn
    with open(path("bad_obj_index.obj"), "w") as f:
        f.write("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 7\n")
    with open(path("anl_small.anl"), "w") as f:
        f.write("%3 landmark points for a fixture\n%\n1\n40\n 7 \n")
    with open(path("bad_anl_zero.anl"), "w") as f:
        f.write("%bad: 0 is not a 1-based index\n3\n0\n")


def bad_mat():
    # A valid compressed and uncompressed file cut in the middle of a variable.
    for src, dst in (("mat_bfm2009_raw.mat", "bad_mat_truncated_raw.mat"),
                     ("mat_bfm2009_z.mat", "bad_mat_truncated_z.mat")):
        with open(path(src), "rb") as f:
            data = f.read()
        with open(path(dst), "wb") as f:
            f.write(data[:700 if "_z" in src else 1000])
    with open(path("bad_mat_notmat.mat"), "wb") as f:
        f.write(b"this is plain text, not a MAT file\n" * 5)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    mat_classes()
    bfm2009()
    eos_fixtures()
    obj_anl()
    bad_mat()
