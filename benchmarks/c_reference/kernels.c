/* C reference kernels for benchmarks/cpu.py: plain loops that gcc vectorizes, OpenMP over rows.

   Built by the benchmark with
       gcc -O3 -march=native -ffast-math -fopenmp -shared -fPIC kernels.c -o kernels.so -lm
   and called through ctypes. Arrays are float32, row-major: x (m, dim), y (n, dim), b (n, 1),
   e (m, 1). Each function copies y once into a transposed (dim, n) array, so that the loops
   over j read contiguous memory, then walks j in blocks small enough to stay in cache
   (block_size()); the rows i are shared among the OpenMP threads (the same static split for
   every block, so a row's partial results stay with one thread).

   Vectorization, checked with `-fopt-info-vec-optimized` (gcc 12.2, -march=native on a znver3
   host: AVX2, no AVX-512; the benchmark script repeats the check and prints it): every loop
   over j in a block below is reported "loop vectorized using 32 byte vectors" -- the squared
   distances (sqdist_block), the exp-and-sum loops of gauss_sum and gauss_grad, the weighted
   sums of gauss_grad, and the max and exp-sum loops of lse. Under -ffast-math glibc's
   math.h declares vector variants of expf, so the exp loops call libmvec's _ZGVdN8v_expf
   (8 lanes). The insertion into the sorted list of argkmin is a scalar loop (it branches);
   its distances are computed by the vectorized sqdist_block.

   -ffast-math assumes no NaN or infinity: the running maximum of lse starts at -FLT_MAX,
   not -INFINITY, and the K best distances of argkmin at FLT_MAX. */

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BLOCK 2048

/* Points of y per block: about 64 KiB of the transposed y, a multiple of 8, in [64, MAX_BLOCK]. */
static long block_size(long dim) {
    long size = 16384 / dim;
    size -= size % 8;
    return size < 64 ? 64 : (size > MAX_BLOCK ? MAX_BLOCK : size);
}

/* y (n, dim) -> (dim, n); the caller frees it. */
static float *transpose(const float *y, long n, long dim) {
    float *yt = malloc(sizeof(float) * n * dim);
    for (long j = 0; j < n; j++)
        for (long d = 0; d < dim; d++) yt[d * n + j] = y[j * dim + d];
    return yt;
}

static long min_long(long a, long b) { return a < b ? a : b; }

/* d2[j] = |x_i - y_{j0 + j}|^2 for j < len. */
static inline void sqdist_block(const float *xi, const float *yt, long n, long j0, long len, long dim,
                                float *restrict d2) {
    for (long j = 0; j < len; j++) d2[j] = 0.0f;
    for (long d = 0; d < dim; d++) {
        const float xd = xi[d];
        const float *restrict yd = yt + d * n + j0;
        for (long j = 0; j < len; j++) {
            const float t = xd - yd[j];
            d2[j] += t * t;
        }
    }
}

/* out_i = sum_j exp(-|x_i - y_j|^2) b_j; out (m, 1). */
void gauss_sum(const float *x, const float *y, const float *b, float *out, long m, long n, long dim) {
    float *yt = transpose(y, n, dim);
    const long block = block_size(dim);
    memset(out, 0, sizeof(float) * m);
#pragma omp parallel
    {
        float d2[MAX_BLOCK];
        for (long j0 = 0; j0 < n; j0 += block) {
            const long len = min_long(block, n - j0);
            const float *restrict bj = b + j0;
#pragma omp for schedule(static) nowait
            for (long i = 0; i < m; i++) {
                sqdist_block(x + i * dim, yt, n, j0, len, dim, d2);
                float s = 0.0f;
                for (long j = 0; j < len; j++) s += expf(-d2[j]) * bj[j];
                out[i] += s;
            }
        }
    }
    free(yt);
}

/* out_i = sum_j -2 (x_i - y_j) exp(-|x_i - y_j|^2) b_j e_i: the gradient in x_i of
   sum_i e_i sum_j exp(-|x_i - y_j|^2) b_j; out (m, dim). */
void gauss_grad(const float *x, const float *y, const float *b, const float *e, float *out, long m, long n,
                long dim) {
    float *yt = transpose(y, n, dim);
    const long block = block_size(dim);
    memset(out, 0, sizeof(float) * m * dim);
#pragma omp parallel
    {
        float w[MAX_BLOCK];
        for (long j0 = 0; j0 < n; j0 += block) {
            const long len = min_long(block, n - j0);
            const float *restrict bj = b + j0;
#pragma omp for schedule(static) nowait
            for (long i = 0; i < m; i++) {
                const float *xi = x + i * dim;
                sqdist_block(xi, yt, n, j0, len, dim, w);
                for (long j = 0; j < len; j++) w[j] = expf(-w[j]) * bj[j];
                for (long d = 0; d < dim; d++) {
                    const float xd = xi[d];
                    const float *restrict yd = yt + d * n + j0;
                    float s = 0.0f;
                    for (long j = 0; j < len; j++) s += (xd - yd[j]) * w[j];
                    out[i * dim + d] += -2.0f * e[i] * s;
                }
            }
        }
    }
    free(yt);
}

/* out_i = log sum_j exp(-|x_i - y_j|^2 + b_j): per block a maximum and a sum shifted by it,
   merged into the row's running (maximum, sum); out (m, 1). */
void lse(const float *x, const float *y, const float *b, float *out, long m, long n, long dim) {
    float *yt = transpose(y, n, dim);
    float *sums = malloc(sizeof(float) * m);
    const long block = block_size(dim);
    for (long i = 0; i < m; i++) {
        out[i] = -FLT_MAX; /* the running maximum until the end */
        sums[i] = 0.0f;
    }
#pragma omp parallel
    {
        float v[MAX_BLOCK];
        for (long j0 = 0; j0 < n; j0 += block) {
            const long len = min_long(block, n - j0);
            const float *restrict bj = b + j0;
#pragma omp for schedule(static) nowait
            for (long i = 0; i < m; i++) {
                sqdist_block(x + i * dim, yt, n, j0, len, dim, v);
                float top = -FLT_MAX;
                for (long j = 0; j < len; j++) {
                    v[j] = bj[j] - v[j];
                    top = fmaxf(top, v[j]);
                }
                float s = 0.0f;
                for (long j = 0; j < len; j++) s += expf(v[j] - top);
                if (top > out[i]) {
                    sums[i] = sums[i] * expf(out[i] - top) + s;
                    out[i] = top;
                } else {
                    sums[i] += s * expf(top - out[i]);
                }
            }
        }
#pragma omp barrier
#pragma omp for schedule(static)
        for (long i = 0; i < m; i++) out[i] += logf(sums[i]);
    }
    free(sums);
    free(yt);
}

/* The k nearest y_j of each x_i (squared Euclidean distance), nearest first, the smaller
   index first on ties: a sorted list of k per row, a new point inserted by shifting the
   farther ones. out (m, k) int64. */
void argkmin(const float *x, const float *y, int64_t *out, long m, long n, long dim, long k) {
    float *yt = transpose(y, n, dim);
    float *best = malloc(sizeof(float) * m * k);
    const long block = block_size(dim);
    for (long r = 0; r < m * k; r++) {
        best[r] = FLT_MAX;
        out[r] = -1;
    }
#pragma omp parallel
    {
        float d2[MAX_BLOCK];
        for (long j0 = 0; j0 < n; j0 += block) {
            const long len = min_long(block, n - j0);
#pragma omp for schedule(static) nowait
            for (long i = 0; i < m; i++) {
                float *dist = best + i * k;
                int64_t *index = out + i * k;
                sqdist_block(x + i * dim, yt, n, j0, len, dim, d2);
                for (long j = 0; j < len; j++) {
                    const float v = d2[j];
                    if (!(v < dist[k - 1])) continue;
                    long p = k - 1;
                    for (; p > 0 && dist[p - 1] > v; p--) {
                        dist[p] = dist[p - 1];
                        index[p] = index[p - 1];
                    }
                    dist[p] = v;
                    index[p] = j0 + j;
                }
            }
        }
    }
    free(best);
    free(yt);
}
