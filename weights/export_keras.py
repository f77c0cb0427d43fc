#!/usr/bin/env python3
"""Export ImageNet weights of a Keras application model for cusnn.

Run where TensorFlow is installed (the weights are downloaded by Keras on first use):

    python weights/export_keras.py resnet50                      # -> weights/resnet50/<layer>.bin
    python weights/export_keras.py densenet121 --safetensors weights/densenet121.safetensors
    python weights/export_keras.py vgg16 --no-bin --safetensors weights/vgg16.safetensors --fp16

Writes (a) the original cuSNN folder layout, one raw little-endian float32 file per layer,
`<keras layer name with '/' replaced by '_'>.bin`, holding the layer's tensors back to back:
conv kernel as K x C x R x S (Keras stores R x S x C x K) then the bias if the layer has one;
batch norm gamma, beta, moving_mean, moving_variance; dense kernel as units x C (Keras stores
C x units) then the bias; and optionally (b) cusnn's safetensors file (see weights/README.md).
Both are what `cusnn-gen --weights` reads. Layer names are cusnn's zoo names, which are the
tf.keras (Keras 2) names: Keras 3 renamed DenseNet's `conv1/conv` and `conv1/bn` to
`conv1_conv` / `conv1_bn` ('/' is no longer allowed), which is mapped back here.

Notes:
- ResNet (v1) convs all have biases; they are exported after each kernel.
- VGG's Flatten works on NHWC data, so fc1's 25088 inputs are in (h, w, c) order. They are kept
  in that order (cusnn's flatten layer is defined as HWC); only the kernel is transposed.
- Needs only numpy besides TensorFlow; the safetensors writer is written out here.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys

import numpy as np

MODELS = {
    'resnet50': 'ResNet50',
    'resnet101': 'ResNet101',
    'resnet152': 'ResNet152',
    'densenet121': 'DenseNet121',
    'densenet169': 'DenseNet169',
    'densenet201': 'DenseNet201',
    'vgg16': 'VGG16',
    'vgg19': 'VGG19',
}

FORMAT = 'cusnn-weights/1'

# Keras 3 names for DenseNet stem layers -> the tf.keras names cusnn's zoo uses.
KERAS3_RENAMES = {'conv1_conv': 'conv1/conv', 'conv1_bn': 'conv1/bn'}


def zoo_name(model: str, keras_name: str) -> str:
    if model.startswith('densenet'):
        return KERAS3_RENAMES.get(keras_name, keras_name)
    return keras_name


def collect(model_name: str, model) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    """(layer name, [(role, float32 array in cusnn layout)]) for every layer with weights, in model order."""
    layers = []
    for layer in model.layers:
        kind = type(layer).__name__
        w = layer.get_weights()
        if not w:
            continue
        name = zoo_name(model_name, layer.name)
        if kind == 'Conv2D':
            kernel = np.transpose(w[0], (3, 2, 0, 1))  # R,S,C,K -> K,C,R,S
            tensors = [('kernel', kernel)]
            if layer.use_bias:
                tensors.append(('bias', w[1]))
        elif kind == 'BatchNormalization':
            if not (layer.center and layer.scale) or len(w) != 4:
                sys.exit(f'{name}: batch norm without both scale and center is not supported')
            tensors = list(zip(('gamma', 'beta', 'moving_mean', 'moving_variance'), w))
        elif kind == 'Dense':
            tensors = [('kernel', np.transpose(w[0]))]  # C,units -> units,C
            if layer.use_bias:
                tensors.append(('bias', w[1]))
        else:
            sys.exit(f'{name}: layer type {kind} has weights but cusnn does not know it')
        layers.append((name, [(role, np.ascontiguousarray(t, dtype='<f4')) for role, t in tensors]))
    return layers


def write_bin(folder: str, layers) -> None:
    os.makedirs(folder, exist_ok=True)
    for name, tensors in layers:
        with open(os.path.join(folder, name.replace('/', '_') + '.bin'), 'wb') as f:
            for _, t in tensors:
                f.write(t.tobytes())


def write_safetensors(path: str, model_name: str, layers, fp16: bool, source: str) -> None:
    """cusnn's safetensors: keys `<layer>:<role>`; with fp16 only kernels are F16 (numpy rounds to nearest even)."""
    header = {'__metadata__': {'format': FORMAT, 'model': model_name, 'source': source, 'storage': 'fp16' if fp16 else 'fp32'}}
    blobs = []
    offset = 0
    for name, tensors in layers:
        for role, t in tensors:
            if fp16 and role == 'kernel':
                t = t.astype('<f2')
            data = t.tobytes()
            header[f'{name}:{role}'] = {'dtype': 'F16' if t.dtype == np.float16 else 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
            blobs.append(data)
            offset += len(data)
    head = json.dumps(header, separators=(',', ':')).encode('utf-8')
    head += b' ' * ((8 - len(head) % 8) % 8)  # data starts 8-byte aligned
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('model', choices=sorted(MODELS))
    ap.add_argument('--bin-dir', help='output folder of .bin files (default: weights/<model>)')
    ap.add_argument('--no-bin', action='store_true', help='do not write the .bin folder')
    ap.add_argument('--safetensors', help='also write cusnn safetensors to this .safetensors file')
    ap.add_argument('--fp16', action='store_true', help='safetensors: store conv and dense kernels as fp16')
    args = ap.parse_args()
    if args.safetensors and not args.safetensors.endswith('.safetensors'):
        ap.error('--safetensors must name a .safetensors file')

    try:
        import tensorflow as tf  # imported late so --help works without TensorFlow
    except ImportError:
        sys.exit('export_keras.py needs TensorFlow (pip install tensorflow) to build the Keras model')

    ctor = getattr(tf.keras.applications, MODELS[args.model])
    model = ctor(weights='imagenet')
    layers = collect(args.model, model)
    n = sum(t.size for _, ts in layers for _, t in ts)
    if n != model.count_params():
        sys.exit(f'exported {n} parameters but the model has {model.count_params()}')
    source = f'keras imagenet ({MODELS[args.model]}, TensorFlow {tf.__version__})'
    if not args.no_bin:
        folder = args.bin_dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), args.model)
        write_bin(folder, layers)
        print(f'{args.model}: {len(layers)} .bin files, {n} parameters -> {folder}')
    if args.safetensors:
        write_safetensors(args.safetensors, args.model, layers, args.fp16, source)
        print(f'{args.model}: {n} parameters -> {args.safetensors} ({"fp16" if args.fp16 else "fp32"} kernels)')


if __name__ == '__main__':
    main()
