#!/usr/bin/env python3
"""Converts a Keras legacy HDF5 weight file (model.save_weights('x.h5'), or Keras's
resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5) into a cxrnet safetensors file.

Layout read (keras/saving/hdf5_format.py; keras-facts.md §2): the root attribute `layer_names`
lists the layers; each layer's group has a `weight_names` attribute, and each weight is the dataset
at that path inside the group ("conv1_conv/conv1_conv/kernel:0").

Names written: PREFIX/LAYER/WEIGHT, e.g. "resnet50v2/conv1_conv/kernel" with the default prefix,
which is the cxrnet parameter name of a `type: ResNet50V2` layer (the C++ loader matches by name).
A weight stored inside a nested model's group ("resnet50v2" group, "conv1_conv/kernel:0") keeps
the group as its first component. Layouts: Conv2D kernels HWIO -> cxrnet OHWI; Dense kernels
(in, out) and BatchNormalization vectors (gamma, beta, moving_mean, moving_variance) unchanged.

Needs h5py and numpy (tools/convert-keras-h5 installs them into build/venv-convert).
Usage: convert_keras_h5.py IN.h5 OUT.safetensors [--prefix resnet50v2]
"""
import argparse
import json
import os
import struct
import sys

import h5py
import numpy as np


def decode(names):
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def read_attr_list(group, name):
    """An attribute over 64 KiB is split into name0, name1, ... (hdf5_format.py)."""
    if name in group.attrs:
        return decode(group.attrs[name])
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        out += decode(group.attrs[f"{name}{i}"])
        i += 1
    return out


def cxrnet_name(prefix, layer, weight_name):
    parts = weight_name.split(":")[0].split("/")  # "conv1_conv/kernel:0" -> [conv1_conv, kernel]
    if parts[0] == layer:
        parts = parts[1:]
    name = "/".join([layer] + parts)
    return f"{prefix}/{name}" if prefix else name


def convert(h5_path, prefix):
    tensors = {}
    with h5py.File(h5_path, "r") as f:
        root = f["model_weights"] if "model_weights" in f else f  # a whole-model save keeps weights there
        layer_names = read_attr_list(root, "layer_names")
        if not layer_names:
            raise SystemExit(f"{h5_path}: no 'layer_names' attribute: not a Keras legacy HDF5 weight file")
        for layer in layer_names:
            group = root[layer]
            for weight_name in read_attr_list(group, "weight_names"):
                data = group[weight_name]
                if data.dtype != np.float32:
                    raise SystemExit(f"{h5_path}: {layer}/{weight_name} is {data.dtype}, expected float32")
                value = np.asarray(data)
                if value.ndim == 4:  # Conv2D kernel (kh, kw, in, out) -> (out, kh, kw, in)
                    value = value.transpose(3, 0, 1, 2)
                name = cxrnet_name(prefix, layer, weight_name)
                if name in tensors:
                    raise SystemExit(f"{h5_path}: two weights map to '{name}'")
                tensors[name] = np.ascontiguousarray(value, dtype="<f4")
    return tensors


def write_safetensors(path, tensors, metadata):
    """The format cxrnet's engine/safetensors.cpp reads: u64 header size, JSON header, raw data."""
    header, offset = {"__metadata__": metadata}, 0
    names = sorted(tensors)
    for name in names:
        nbytes = tensors[name].nbytes
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for name in names:
            out.write(tensors[name].tobytes())
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("h5")
    parser.add_argument("out")
    parser.add_argument("--prefix", default="resnet50v2",
                        help="first name component (the nested layer's Keras name); '' for none")
    args = parser.parse_args()
    tensors = convert(args.h5, args.prefix)
    write_safetensors(args.out, tensors, {"format": "cxrnet-weights-v1", "source": os.path.basename(args.h5)})
    total = sum(t.size for t in tensors.values())
    print(f"wrote {args.out}: {len(tensors)} tensors, {total:,} parameters")


if __name__ == "__main__":
    sys.exit(main())
