"""Training-step throughput of the four experiments' models in PyTorch or Keras: the peers of
benchmarks/e2e/bench_train_step.cpp. Same layers and shapes as configs/experiment{1..4}.yaml, batch
32, random images and labels, Adam with the config's settings, binary cross-entropy on the logits;
one step = forward, loss, backward, optimizer update. Prints (or writes) JSON.

    python peers.py --framework torch|keras [--device cpu|cuda] [--threads 2] [--experiments 1,2,3,4]
                    [--min-seconds 3] [--compile] [--layouts nchw,channels_last] [--out FILE]

PyTorch runs each model in both memory formats on the CPU, NCHW (its default) and channels_last
(NHWC: on the 2-core development VM 9-28% faster at experiments 1-3, no faster at experiment 4),
and keeps the faster; on a GPU NCHW only, unless --layouts says otherwise.

--compile runs each framework's compiler over the model: torch.compile (Inductor) for PyTorch,
jit_compile=True (XLA) for Keras. Without it, the frameworks' defaults: PyTorch eager, and Keras's
tf.function graph, which Keras keeps off XLA on a machine without a GPU. tools/bench-peers --compiled
runs both and keeps each experiment's faster (benchmarks/peers/best_of.py).

Run by tools/bench-peers (CPU, in a venv under the build folder) and tools/gpu-check (PyTorch with
cuDNN on a GPU machine). One framework per process: TensorFlow and PyTorch each bring an OpenMP.
"""

import argparse
import datetime
import gc
import json
import os
import platform
import sys
import time

BATCH = 32

# The models of configs/experiment{1,2,3}.yaml: (image size, [(filters, stride, dropout rate)]),
# each conv 5x5 'valid' -> BatchNormalization -> Dropout -> relu; then MaxPooling2D(2), Dropout 0.5,
# BatchNormalization, Flatten, Dense 64, relu, Dropout 0.5, Dense 1 (sigmoid: the loss takes logits).
CNNS = {
    1: (50, [(16, 1, 0.2), (32, 2, 0.4), (64, 2, 0.5)]),
    2: (50, [(16, 1, 0.2), (32, 2, 0.4), (64, 2, 0.5), (64, 2, 0.5)]),
    3: (128, [(16, 1, 0.2), (32, 2, 0.4), (64, 2, 0.5)]),
}
LEARNING_RATE = {1: 3e-6, 2: 3e-6, 3: 3e-6, 4: 0.003}
RESCALE = {1: 1 / 50, 2: 1 / 50, 3: 1 / 128, 4: 1 / 50}
# ResNet50V2's stacks: (filters, blocks, stride of the last block).
RESNET_STACKS = [(64, 3, 2), (128, 4, 2), (256, 6, 2), (512, 3, 1)]


def conv_output(size, convs):
    for _, stride, _ in convs:
        size = (size - 5) // stride + 1
    return size // 2  # MaxPooling2D(2), 'valid'


def time_steps(step, sync, min_seconds, after_warmup=lambda: None):
    """Two warm-up steps, then steps until min_seconds have passed (at least 3): images/s. The first
    step's time is kept apart: it holds the graph tracing, and with --compile the compilation."""
    first = time.perf_counter()
    step()
    sync()
    first = time.perf_counter() - first
    step()
    sync()
    after_warmup()
    steps, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        steps += 1
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and steps >= 3:
            # CPU time of all the process's threads per step: steadier than wall time on a loaded machine.
            cpu = time.process_time() - cpu_start
            return {"steps": steps, "seconds": elapsed, "ms_per_step": 1e3 * elapsed / steps,
                    "cpu_ms_per_step": 1e3 * cpu / steps, "images_per_second": BATCH * steps / elapsed,
                    "first_step_seconds": first}


# ---------------------------------------------------------------------------------------------------
# PyTorch (eager; NCHW, its default layout)
# ---------------------------------------------------------------------------------------------------
def torch_models(torch):
    nn, F = torch.nn, torch.nn.functional

    def bn(channels, eps=1e-3):  # Keras: momentum 0.99 keeps 0.99 of the old value; PyTorch's takes 0.01 of the new
        return nn.BatchNorm2d(channels, eps=eps, momentum=0.01)

    class Cnn(nn.Module):
        def __init__(self, size, convs):
            super().__init__()
            layers, channels = [], 3
            for filters, stride, rate in convs:
                layers += [nn.Conv2d(channels, filters, 5, stride), bn(filters), nn.Dropout(rate), nn.ReLU()]
                channels = filters
            side = conv_output(size, convs)
            layers += [nn.MaxPool2d(2), nn.Dropout(0.5), bn(channels), nn.Flatten(),
                       nn.Linear(channels * side * side, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 1)]
            self.net = nn.Sequential(*layers)

        def forward(self, x):
            return self.net(x)

    class Block2(nn.Module):  # keras.applications.resnet_v2 block2: pre-activation bottleneck
        def __init__(self, channels, filters, stride, conv_shortcut):
            super().__init__()
            self.preact_bn = bn(channels, 1.001e-5)
            self.conv_shortcut = conv_shortcut
            self.shortcut = (nn.Conv2d(channels, 4 * filters, 1, stride) if conv_shortcut
                             else nn.MaxPool2d(1, stride) if stride > 1 else nn.Identity())
            self.conv1, self.bn1 = nn.Conv2d(channels, filters, 1, bias=False), bn(filters, 1.001e-5)
            # ZeroPadding2D(1) then a 'valid' 3x3 conv: PyTorch's symmetric padding=1 is the same.
            self.conv2, self.bn2 = nn.Conv2d(filters, filters, 3, stride, padding=1, bias=False), bn(filters, 1.001e-5)
            self.conv3 = nn.Conv2d(filters, 4 * filters, 1)

        def forward(self, x):
            preact = F.relu(self.preact_bn(x))
            shortcut = self.shortcut(preact if self.conv_shortcut else x)
            h = F.relu(self.bn1(self.conv1(preact)))
            h = F.relu(self.bn2(self.conv2(h)))
            return shortcut + self.conv3(h)

    class ResNet50V2(nn.Module):  # include_top=False, pooling=None
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, padding=3)  # conv1_pad (3) + conv1_conv
            blocks, channels = [], 64
            for filters, count, stride in RESNET_STACKS:
                for i in range(count):
                    blocks.append(Block2(channels, filters, stride if i == count - 1 else 1, i == 0))
                    channels = 4 * filters
            self.blocks = nn.Sequential(*blocks)
            self.post_bn = bn(channels, 1.001e-5)

        def forward(self, x):
            x = F.max_pool2d(F.pad(self.conv1(x), (1, 1, 1, 1)), 3, 2)  # pool1_pad pads with zeros
            return F.relu(self.post_bn(self.blocks(x)))

    class Transfer(nn.Module):  # experiment 4: frozen ResNet50V2 + GAP + frozen Dense 64 relu + Dropout + Dense 1
        def __init__(self):
            super().__init__()
            self.resnet, self.dense1, self.dropout, self.dense2 = ResNet50V2(), nn.Linear(2048, 64), nn.Dropout(0.5), nn.Linear(64, 1)
            for p in list(self.resnet.parameters()) + list(self.dense1.parameters()):
                p.requires_grad_(False)

        def train(self, mode=True):
            super().train(mode)
            self.resnet.eval()  # frozen BatchNorms normalise with their moving statistics, as in Keras
            return self

        def forward(self, x):
            x = self.resnet(x).mean(dim=(2, 3))
            return self.dense2(self.dropout(F.relu(self.dense1(x))))

    def make(experiment):
        if experiment == 4:
            return 50, Transfer()
        size, convs = CNNS[experiment]
        return size, Cnn(size, convs)

    return make


def run_torch(args):
    import torch

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    device = torch.device(args.device)
    if args.device == "cuda":
        torch.backends.cudnn.benchmark = True  # cuDNN's algorithm search, as cxrnet's vendor path does
        torch.backends.cuda.matmul.allow_tf32 = False  # plain FP32, as cxrnet's default
        torch.backends.cudnn.allow_tf32 = False
    make = torch_models(torch)
    cuda = args.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:  # cuBLAS's workspace, kept for the process, made before any baseline (as bench_e2e does)
        torch.ones(2, 2, device=device) @ torch.ones(2, 2, device=device)
        sync()

    def requested_bytes(which):  # what the caching allocator was asked for: bench_e2e's GPU count
        return torch.cuda.memory_stats()[f"requested_bytes.all.{which}"]

    def run(e, layout):  # one experiment in one layout; its model, optimizer and batch are freed on return
        torch.manual_seed(0)
        baseline = requested_bytes("current") if cuda else 0
        size, model = make(e)
        model = model.to(device).train()
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.Adam(params, lr=LEARNING_RATE[e], betas=(0.9, 0.999), eps=1e-7)
        x = (torch.rand(BATCH, 3, size, size) * 255 * RESCALE[e]).to(device)
        y = torch.randint(0, 2, (BATCH, 1)).float().to(device)
        if layout == "channels_last":  # NHWC: the weights and the batch (the activations follow them)
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)

        forward = torch.compile(model) if args.compile else model  # Inductor: forward and backward

        def step():
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(forward(x), y)
            loss.backward()
            opt.step()

        # The peak over the timed steps, after the warm-up, whose algorithm search tries workspaces a
        # step does not keep: bench_e2e's peak_MiB and held_MiB on the GPU.
        r = time_steps(step, sync, args.min_seconds, torch.cuda.reset_peak_memory_stats if cuda else (lambda: None))
        if cuda:
            r["peak_mib"] = (requested_bytes("peak") - baseline) / 2**20
            r["held_mib"] = (requested_bytes("current") - baseline) / 2**20
        r.update(experiment=e, trainable_parameters=sum(p.numel() for p in params), layout=layout)
        return r

    results = []
    for e in args.experiments:
        runs = []
        for layout in args.layouts:
            gc.collect()  # the last run's tensors, before this one's baseline
            runs.append(run(e, layout))
            r = runs[-1]
            print(f"torch experiment {e} ({layout}): {r['images_per_second']:.1f} images/s, "
                  f"{r['cpu_ms_per_step']:.1f} CPU ms/step", file=sys.stderr)
        # The faster layout's run, with what each layout gave.
        results.append(dict(max(runs, key=lambda r: r["images_per_second"]),
                            layouts={r["layout"]: r["images_per_second"] for r in runs}))
    extra = {"cudnn": torch.backends.cudnn.version()} if args.device == "cuda" else {}
    return {"framework": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads(), **extra,
            "results": results}


# ---------------------------------------------------------------------------------------------------
# Keras 3 on TensorFlow (CPU)
# ---------------------------------------------------------------------------------------------------
def keras_model(keras, experiment):
    from keras import layers

    if experiment == 4:
        base = keras.applications.ResNet50V2(include_top=False, weights=None, input_shape=(50, 50, 3))
        base.trainable = False
        inputs = keras.Input((50, 50, 3))
        x = layers.GlobalAveragePooling2D()(base(inputs))
        x = layers.Dense(64, activation="relu", trainable=False)(x)
        x = layers.Dropout(0.5)(x)
        return 50, keras.Model(inputs, layers.Dense(1, activation="sigmoid")(x))
    size, convs = CNNS[experiment]
    model = keras.Sequential([keras.Input((size, size, 3))])
    for filters, stride, rate in convs:
        for layer in (layers.Conv2D(filters, 5, strides=stride, padding="valid"), layers.BatchNormalization(),
                      layers.Dropout(rate), layers.Activation("relu")):
            model.add(layer)
    for layer in (layers.MaxPooling2D(2), layers.Dropout(0.5), layers.BatchNormalization(), layers.Flatten(),
                  layers.Dense(64), layers.Activation("relu"), layers.Dropout(0.5), layers.Dense(1),
                  layers.Activation("sigmoid")):
        model.add(layer)
    return size, model


def run_keras(args):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    results = []
    rng = np.random.default_rng(0)
    for e in args.experiments:
        keras.utils.set_random_seed(0)
        size, model = keras_model(keras, e)
        # Keras turns the sigmoid output's cross-entropy into the logits form itself (keras-facts §4).
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE[e], epsilon=1e-7),
                      loss="binary_crossentropy", jit_compile=True if args.compile else "auto")
        x = (rng.random((BATCH, size, size, 3), dtype=np.float32) * 255 * RESCALE[e]).astype(np.float32)
        y = rng.integers(0, 2, (BATCH, 1)).astype(np.float32)
        r = time_steps(lambda: model.train_on_batch(x, y), lambda: None, args.min_seconds)  # returns the loss: synchronous
        r.update(experiment=e, trainable_parameters=int(sum(np.prod(w.shape) for w in model.trainable_weights)))
        results.append(r)
        print(f"keras experiment {e}: {r['images_per_second']:.1f} images/s, {r['cpu_ms_per_step']:.1f} CPU ms/step", file=sys.stderr)
    return {"framework": "keras", "version": keras.__version__, "tensorflow": tf.__version__,
            "threads": args.threads, "results": results}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--framework", choices=["torch", "keras"], required=True)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--experiments", default="1,2,3,4")
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--compile", action="store_true", help="torch.compile / Keras jit_compile=True (XLA)")
    p.add_argument("--layouts", help="PyTorch's memory formats to run each model in, keeping the faster: "
                   "nchw, channels_last (default: both on the CPU, nchw on a GPU)")
    p.add_argument("--out")
    args = p.parse_args()
    args.experiments = [int(e) for e in args.experiments.split(",")]
    args.layouts = (args.layouts or ("nchw,channels_last" if args.device == "cpu" else "nchw")).split(",")
    if any(layout not in ("nchw", "channels_last") for layout in args.layouts):
        p.error(f"--layouts: nchw and/or channels_last, not {','.join(args.layouts)}")
    if args.framework == "keras" and args.device != "cpu":
        p.error("the Keras peer runs on the CPU (tensorflow-cpu)")
    report = run_torch(args) if args.framework == "torch" else run_keras(args)
    # How this run went, for best_of.py and the report: the OpenMP wait policy the caller set, if any.
    report.update(compiled=args.compile, omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"))
    report.update(device=args.device, batch=BATCH, date=datetime.datetime.now().isoformat(timespec="minutes"), python=platform.python_version(), machine=platform.machine())
    text = json.dumps(report, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
