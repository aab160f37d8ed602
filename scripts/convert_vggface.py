#!/usr/bin/python3
"""Convert the public VGG-Face MatConvNet release into stn3d's weights format.

Input: ``vgg_face.mat`` from the Oxford VGG-Face release
(vgg_face_matconvnet.tar.gz, "data/vgg_face.mat"; the file the reference
3DMMasSTN code loads).  Both MatConvNet layouts are read:

* SimpleNN: ``net.layers`` (or top-level ``layers``) is a cell array of structs
  with ``name``, ``type`` and either ``weights = {filters, biases}`` or the
  older ``filters`` / ``biases`` fields;
* DagNN: ``params`` is a struct array of ``name`` / ``value`` with names
  ``conv1_1f``, ``conv1_1b``, ..., ``fc6f``, ``fc6b``.

The Caffe (VGG_FACE.caffemodel) and PyTorch ports are NOT read: convert those
to the MatConvNet layout first, or extend ``load_layers``.

Output (see graph/weights.go for the byte layout): little-endian, magic
"STN3DWT\\0", version 1, tensor count, then per tensor name, dtype (1 =
float32), ndim, dims, data and a CRC-32 of the record.  Tensor names and
layouts match graph.BuildLocaliser(kind "vggface"):

* ``convX_Y.w`` (Cout, Cin, kH, kW) from MatConvNet (kH, kW, Cin, Cout);
  both are correlations with kH along image rows, so this is a transpose.
* ``convX_Y.b`` (1, Cout, 1, 1).
* ``fc6.w`` (25088, 4096): MatConvNet's fc6 is a 7x7x512x4096 convolution
  over pool5 indexed [y, x, c]; our fully connected layer flattens pool5
  from (C, H, W) row-major, so row c*49 + y*7 + x holds filter[y, x, c, :].
* ``fc7.w`` (4096, 4096) from (1, 1, 4096, 4096); ``fcN.b`` (1, out).
* ``meta.mean_rgb`` (3,): the network's per-channel mean (0-255 RGB) when
  the file has ``meta.normalization.averageImage`` (or ``normalization``).
  The reference fed images without subtracting it; stn3d leaves the choice
  to the data pipeline.

fc8 (the 2622-identity classifier) is dropped: stn3d replaces it by the
4096 -> 6 + D theta layer.

Usage: /usr/bin/python3 scripts/convert_vggface.py vgg_face.mat vggface.stnw
Needs numpy and scipy (Debian python3-scipy).  Output is written atomically.
"""

import os
import struct
import sys
import tempfile
import zlib

import numpy as np
import scipy.io

MAGIC = b"STN3DWT\x00"
VERSION = 1

CONV_NAMES = [
    "conv1_1", "conv1_2", "conv2_1", "conv2_2",
    "conv3_1", "conv3_2", "conv3_3", "conv4_1", "conv4_2", "conv4_3",
    "conv5_1", "conv5_2", "conv5_3",
]


def _field(obj, name):
    """Return obj.name for a scipy mat_struct or a numpy record, else None."""
    if obj is None:
        return None
    if hasattr(obj, "_fieldnames"):
        return getattr(obj, name, None) if name in obj._fieldnames else None
    if isinstance(obj, np.ndarray) and obj.dtype.names and name in obj.dtype.names:
        v = obj[name]
        return v.item() if v.size == 1 else v
    return None


def _str(v):
    if isinstance(v, np.ndarray):
        v = v.item() if v.size == 1 else "".join(v.ravel().tolist())
    return str(v)


def load_layers(path):
    """Return ({name: (filters, biases)}, mean_rgb or None)."""
    mat = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)
    root = mat.get("net")
    layers = _field(root, "layers") if root is not None else mat.get("layers")
    params = _field(root, "params") if root is not None else mat.get("params")
    meta = _field(root, "meta") if root is not None else mat.get("meta")
    norm = _field(meta, "normalization") if meta is not None else None
    if norm is None:
        norm = _field(root, "normalization") if root is not None else mat.get("normalization")
    mean = None
    avg = _field(norm, "averageImage")
    if avg is not None:
        a = np.asarray(avg, dtype=np.float64)
        mean = a.reshape(-1, 3).mean(axis=0) if a.size >= 3 else None

    out = {}
    if params is not None and layers is not None and _field(np.atleast_1d(params)[0], "value") is not None:
        # DagNN: params struct array with name/value.
        byname = {_str(p.name): np.asarray(p.value) for p in np.atleast_1d(params)}
        for name in CONV_NAMES + ["fc6", "fc7", "fc8"]:
            if name + "f" in byname:
                out[name] = (byname[name + "f"], byname.get(name + "b"))
        return out, mean
    if layers is None:
        raise ValueError("%s: no net.layers, layers or params variable: not a MatConvNet model" % path)
    for layer in np.atleast_1d(layers):
        if _str(_field(layer, "type")) != "conv":
            continue
        name = _str(_field(layer, "name"))
        w = _field(layer, "weights")
        if w is not None:
            w = list(np.atleast_1d(w)) if not isinstance(w, (list, tuple)) else list(w)
            f, b = w[0], (w[1] if len(w) > 1 else None)
        else:
            f, b = _field(layer, "filters"), _field(layer, "biases")
        if f is None:
            raise ValueError("%s: layer %s has no weights" % (path, name))
        out[name] = (np.asarray(f), None if b is None else np.asarray(b))
    return out, mean


def convert(layers, mean):
    """Return a list of (name, float32 array) in stn3d layouts."""
    tensors = []
    for name in CONV_NAMES:
        if name not in layers:
            raise ValueError("layer %s missing (have %s)" % (name, sorted(layers)))
        f, b = layers[name]
        if f.ndim == 3:  # squeeze_me dropped a trailing unit Cout
            f = f[..., None]
        if f.ndim != 4:
            raise ValueError("layer %s: filters have shape %s, want (kH, kW, Cin, Cout)" % (name, f.shape))
        cout = f.shape[3]
        tensors.append((name + ".w", np.ascontiguousarray(f.transpose(3, 2, 0, 1), dtype=np.float32)))
        bias = np.zeros(cout, np.float32) if b is None else np.asarray(b, np.float32).reshape(cout)
        tensors.append((name + ".b", bias.reshape(cout)))
    for name in ("fc6", "fc7"):
        if name not in layers:
            raise ValueError("layer %s missing" % name)
        f, b = layers[name]
        f = np.asarray(f)
        if f.ndim == 2:
            f = f[None, None]
        if f.ndim != 4:
            raise ValueError("layer %s: filters have shape %s, want (kH, kW, Cin, Cout)" % (name, f.shape))
        kh, kw, cin, cout = f.shape
        w = f.transpose(2, 0, 1, 3).reshape(cin * kh * kw, cout)
        tensors.append((name + ".w", np.ascontiguousarray(w, dtype=np.float32)))
        bias = np.zeros(cout, np.float32) if b is None else np.asarray(b, np.float32).reshape(cout)
        tensors.append((name + ".b", bias.reshape(1, cout)))
    if mean is not None:
        tensors.append(("meta.mean_rgb", np.asarray(mean, np.float32).reshape(3)))
    return tensors


def encode(tensors):
    parts = [MAGIC, struct.pack("<II", VERSION, len(tensors))]
    for name, arr in tensors:
        nb = name.encode("utf-8")
        if not 1 <= len(nb) <= 1024 or arr.ndim > 8:
            raise ValueError("tensor %r: bad name or rank" % name)
        rec = struct.pack("<H", len(nb)) + nb + struct.pack("<BB", 1, arr.ndim)
        rec += struct.pack("<%dI" % arr.ndim, *arr.shape)
        rec += np.ascontiguousarray(arr, dtype="<f4").tobytes()
        parts.append(rec)
        parts.append(struct.pack("<I", zlib.crc32(rec) & 0xFFFFFFFF))
    return parts


def write_atomic(path, parts):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            for p in parts:
                f.write(p)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: convert_vggface.py vgg_face.mat out.stnw\n")
        return 2
    try:
        layers, mean = load_layers(argv[1])
        tensors = convert(layers, mean)
        write_atomic(argv[2], encode(tensors))
    except (OSError, ValueError, KeyError) as e:
        sys.stderr.write("convert_vggface: %s\n" % e)
        return 1
    n = sum(a.size for _, a in tensors)
    print("wrote %s: %d tensors, %d values" % (argv[2], len(tensors), n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
