// Hand-written element-wise and helper kernels of the runtime (kernels.cu). Every launcher queues
// its kernel on `stream` and returns the launch error (cudaGetLastError), which the caller checks
// with the layer's name. Nothing here synchronizes, so all of it can be captured in a CUDA graph.
//
// Activations are fp32 NCHW views: element (n, c, y, x) at p + n * bs + (c * h + y) * w + x, with
// p already offset to the view's first element. Zero counters are unsigned long long on the
// device; a counting kernel reduces per warp, then per block, and adds once per block.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

namespace cusnn {

struct DevView {
  float* p;
  long long bs;  // floats between batch items
  int c, h, w;
  long long chw() const { return 1LL * c * h * w; }
};

// The activation of an element-wise epilogue: ReLU (fmaxf(v, 0): NaN -> 0), then, when clamp is
// set, min(max(v, lo), hi) (ReLU6: relu false, clamp [0, 6]; NaN -> lo, as fmaxf gives).
struct Activation {
  bool relu = false;
  bool clamp = false;
  float lo = 0.0f, hi = 0.0f;
};

// y = act(x * scale[c] + shift[c]); scale and shift may each be null (1 and 0). in and out may
// be the same view (in place, e.g. the epilogue after a cuDNN convolution). counter may be null.
cudaError_t launchAffine(const DevView& in, const DevView& out, const float* scale, const float* shift,
                         const Activation& act, unsigned long long* counter, int batch, cudaStream_t stream);

// out = act(a + b), counting zeros of out when counter is not null.
cudaError_t launchAdd(const DevView& a, const DevView& b, const DevView& out, const Activation& act,
                      unsigned long long* counter, int batch, cudaStream_t stream);

// Max or average pooling over kh x kw windows, stride sh x sw, leading padding pt/pl (the trailing
// padding is what out's extent implies). Without excludePad, cells outside the input read 0 (Keras
// ZeroPadding2D in front of a valid pooling), for max pooling too, and the average divides by
// kh * kw. With excludePad (ONNX), they take no part: the max and the mean of the window's cells
// inside the input (a window with none gives NaN; importers reject such pools).
cudaError_t launchPool(bool isMax, bool excludePad, const DevView& in, const DevView& out, int kh, int kw, int sh,
                       int sw, int pt, int pl, unsigned long long* counter, int batch, cudaStream_t stream);

// out[n][c] = mean over (y, x) of in[n][c][y][x].
cudaError_t launchGlobalAvgPool(const DevView& in, const DevView& out, int batch, cudaStream_t stream);

// Keras Flatten of NHWC data: out[n][(y * w + x) * c + ch] = in[n][ch][y][x].
cudaError_t launchFlattenHwc(const DevView& in, const DevView& out, int batch, cudaStream_t stream);

// Softmax over each batch item's c * h * w values: the channel softmax of a classifier's N x C x 1 x 1
// output (the runtime takes cuDNN's CHANNEL mode for h * w > 1).
cudaError_t launchSoftmax(const DevView& in, const DevView& out, int batch, cudaStream_t stream);

// Adds the number of exact zeros (+0 and -0) of the view to *counter.
cudaError_t launchCountZeros(const DevView& v, unsigned long long* counter, int batch, cudaStream_t stream);

// Copies the view into a packed [batch][c][pt + h + pb][pl + w + pr] buffer with zero borders
// (explicit padding where cuDNN's symmetric padding cannot express the layer's).
cudaError_t launchPadCopy(const DevView& in, float* dst, int pt, int pb, int pl, int pr, int batch, cudaStream_t stream);

cudaError_t launchFill(float* p, size_t n, float value, cudaStream_t stream);

// Deterministic pseudo-random data: each element is 0 with probability zeroFraction, else
// uniform in (-1, 1). Used to time cuDNN algorithms on data that is neither zeros nor garbage.
cudaError_t launchFillRandom(const DevView& v, int batch, unsigned seed, float zeroFraction, cudaStream_t stream);

// result[0] = max |a - b|, result[1] = max |b| (b packed: batch stride c*h*w). NaN counts as huge.
// result must hold 2 floats, zeroed by the caller.
cudaError_t launchMaxAbsDiff(const DevView& a, const float* packedB, int batch, float* result, cudaStream_t stream);

// Dynamic mode: sets the conditional handle(s) from the zero counter of a conv's input.
// sparse = (zeros / total >= threshold); hSparse gets sparse, hDense (when hasDense) gets !sparse.
cudaError_t launchSetBranch(cudaGraphConditionalHandle hSparse, cudaGraphConditionalHandle hDense, bool hasDense,
                            const unsigned long long* counter, double total, double threshold, cudaStream_t stream);

}  // namespace cusnn
