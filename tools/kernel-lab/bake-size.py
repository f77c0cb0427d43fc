#!/usr/bin/env python3
# Code size of weights baked into a kernel as immediates (issue 10, item 2: "weights baked into the code only where
# the measured code size and instruction-cache behaviour pay"). Emits a kernel in which NCH output channels of a
# conv with C input channels, an HW x HW map and an R x R filter each sum NNZ nonzero weights as unrolled
# fmaf(load at a fixed offset, immediate weight) -- one lane per output pixel, input offsets fixed at generation
# as in the wsparse family, and no bounds checks (a padded-input assumption: a lower bound on the code) --
# compiles it for sm_90 with nvcc and reads the .text size of the cubin (readelf). Needs nvcc only, no GPU.
# usage: python3 tools/kernel-lab/bake-size.py C HW R NNZ NCH     (run in a scratch folder: writes k.cu, k.cubin)
import re
# Emit a kernel with NCH output channels' nonzero weights baked as immediates (one lane per output pixel,
# input offsets fixed at generation as in wsparse), compile for sm_90, count SASS instructions.
import random, struct, subprocess, sys
def emit(c, hw, r, nnz_per_ch, nch, seed=1):
    random.seed(seed)
    pairs = c * r * r
    lines = ['extern "C" __global__ void baked(const float* __restrict__ x, float* __restrict__ y) {',
             '  const int p = blockIdx.y * blockDim.x + threadIdx.x; if (p >= %d) return;' % (hw * hw),
             '  const float* xp = x + p; float a;', '  switch (blockIdx.x) {']
    for k in range(nch):
        offs = sorted(random.sample(range(pairs), nnz_per_ch))
        lines.append('  case %d: a = 0.0f;' % k)
        for q in offs:
            cc, tap = divmod(q, r * r); rr, ss = divmod(tap, r)
            off = cc * hw * hw + (rr - r // 2) * hw + (ss - r // 2)  # padded-input assumption: no bounds checks
            w = struct.unpack('f', struct.pack('f', random.uniform(-1, 1)))[0]
            lines.append('    a = fmaf(__ldg(xp + %d), %.9ef, a);' % (off + (r // 2) * hw + r // 2, w))
        lines.append('    y[%d * %d + p] = a; break;' % (k, hw * hw))
    lines += ['  }', '}']
    return '\n'.join(lines) + '\n'
c, hw, r, nnz, nch = map(int, sys.argv[1:6])
open('k.cu', 'w').write(emit(c, hw, r, nnz, nch))
subprocess.run(['nvcc', '-arch=sm_90', '-cubin', '-O3', '-o', 'k.cubin', 'k.cu'], check=True)
elf = subprocess.run(['readelf', '-S', '-W', 'k.cubin'], capture_output=True, text=True).stdout
m = re.search(r'\.text\.baked\s+PROGBITS\s+[0-9a-f]+\s+[0-9a-f]+\s+([0-9a-f]+)', elf)
size = int(m.group(1), 16)
print(f'c{c} {hw}x{hw} {r}x{r}: {nch} channels x {nnz} nonzeros = {nch*nnz}: .text {size} bytes ({size // 16} instructions): {size/(nch*nnz):.1f} bytes per nonzero')
